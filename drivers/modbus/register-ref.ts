/** Table names, repeated here so this file depends on nothing. */
type Table = 'coil' | 'discrete' | 'input' | 'holding';

const PREFIX: Record<string, Table> = { '0': 'coil', '1': 'discrete', '3': 'input', '4': 'holding' };
const PREFIX_OF: Record<Table, string> = { coil: '0', discrete: '1', input: '3', holding: '4' };

/**
 * Parses a 1-based "Modicon" reference into table + 0-based protocol address, or returns an error
 * message. Rules, without ambiguity:
 * - a string of 5 digits: first digit 0/1/3/4 = coil/discrete/input/holding, the other 4 the
 *   1-based number (40001 = holding 0, 49999 = holding 9998);
 * - a string of 6 digits: the same with 5 digits of number (400001 = holding 0, 465536 = holding 65535);
 * - a number is written without leading zeros, so: 1-9999 = coil (5-digit 00001-09999),
 *   10001-49999 = 5-digit notation, 100001-465536 = 6-digit notation. 6-digit coils
 *   (000001-065536) exist only as strings.
 */
export function parseRegisterRef(ref: number | string): { table: Table; address: number } | string {
  let digits: string;
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref < 1) return `register ${ref} is not a Modicon reference such as 40001`;
    if (ref <= 49_999) digits = String(ref).padStart(5, '0');
    else if (ref >= 100_001) digits = String(ref).padStart(6, '0');
    else return `register ${ref}: 5-digit references end at 49999 and 6-digit ones start at 100001`;
  } else digits = ref.trim();
  if (!/^\d{5,6}$/.test(digits)) return `register "${ref}" must be 5 or 6 digits, e.g. 40001 or 400001`;
  const table = PREFIX[digits[0]!];
  if (!table) return `register ${digits}: the first digit must be 0 (coil), 1 (discrete input), 3 (input register) or 4 (holding register)`;
  const n = Number(digits.slice(1));
  const max = digits.length === 5 ? 9999 : 65536;
  if (n < 1 || n > max) return `register ${digits}: the number after the table digit must be 1-${max}`;
  return { table, address: n - 1 };
}

/** The 6-digit reference of a table address, e.g. holding 0 -> "400001" (for tools and docs). */
export function formatRegisterRef(table: Table, address: number): string {
  return PREFIX_OF[table] + String(address + 1).padStart(5, '0');
}
