import type { ReadHook } from './pdu.js';
import type { TableSizes, UnitBanks } from './unit-banks.js';

export interface UnitSpec {
  id: number;
  /** Mapped size per table; reads beyond it get exception 2. */
  sizes: TableSizes;
}

/**
 * What a simulated site looks like: its unit ids and how their registers move. update() must be
 * a pure function of the profile's seed and the tick number (plus any forced values), so a test
 * can compute the exact register contents of any tick.
 */
export interface SimProfile {
  readonly name: string;
  readonly units: readonly UnitSpec[];
  /** Default time between ticks when the server runs its own timer. */
  readonly tickMs: number;
  /** Writes the constant registers and remembers the banks (for forced values). */
  init(units: ReadonlyMap<number, UnitBanks>): void;
  /** Writes the live values of tick n. */
  update(tick: number): void;
  /** Runs before each valid read request is answered. */
  onRead?: ReadHook;
}
