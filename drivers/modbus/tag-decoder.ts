import { Quality } from '../../core/quality.js';
import type { Value } from '../../core/reading.js';
import type { ModbusTag, WordOrder } from './config.js';
import { decodeBit, decodeRegisters, decodeString, makeScaler } from './decode.js';

/** Decodes one tag from the data of its request (registers, or bits as 0/1) at offset. */
export type TagDecoder = (data: ArrayLike<number>, offset: number) => { value: Value; quality: number };

const good = (value: Value): { value: Value; quality: number } => ({ value, quality: Quality.Good });

/**
 * Builds the decoder of a tag once, so a poll does no config lookups. Numbers: raw * scale +
 * offset; int64/uint64 stay exact bigints unless scaled (then a number). A NaN float is how many
 * meters say "no value": null with BadSensorFailure (SQLite would store NaN as NULL anyway). A
 * value outside min..max keeps its value with UncertainEngineeringUnitsExceeded.
 */
export function compileDecoder(tag: ModbusTag, deviceOrder: WordOrder): TagDecoder {
  const order = tag.wordOrder ?? deviceOrder;
  if (tag.type === 'bool') {
    const { bit } = tag;
    if (bit === undefined) return (data, offset) => good(data[offset] === 1);
    return (data, offset) => good(decodeBit(data, offset, bit, order));
  }
  if (tag.type === 'string') {
    const length = tag.length ?? 1;
    return (data, offset) => good(decodeString(data, offset, length, order));
  }
  const { type } = tag;
  const scale = makeScaler(tag.scale, tag.offset);
  const unscaled = tag.scale === 1 && tag.offset === 0;
  const min = tag.min ?? -Infinity;
  const max = tag.max ?? Infinity;
  return (data, offset) => {
    const raw = decodeRegisters(data, offset, type, order);
    if (typeof raw === 'bigint') {
      if (unscaled) return { value: raw, quality: raw < min || raw > max ? Quality.UncertainEngineeringUnitsExceeded : Quality.Good };
      const v = Number(raw) * tag.scale + tag.offset;
      return { value: v, quality: v < min || v > max ? Quality.UncertainEngineeringUnitsExceeded : Quality.Good };
    }
    if (Number.isNaN(raw)) return { value: null, quality: Quality.BadSensorFailure };
    const v = scale(raw);
    return { value: v, quality: v < min || v > max ? Quality.UncertainEngineeringUnitsExceeded : Quality.Good };
  };
}
