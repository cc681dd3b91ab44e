/** Deterministic noise for simulator profiles: the same (seed, channel, x) always gives the same value. */

/** 32-bit integer hash of a few integers (murmur3 finaliser over a running mix). */
export function hash32(...ints: number[]): number {
  let h = 0x9e3779b9;
  for (const n of ints) {
    h = Math.imul(h ^ (n | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Uniform value in [-1, 1) for integer k. */
export function latticeNoise(seed: number, channel: number, k: number): number {
  return hash32(seed, channel, k) / 2 ** 31 - 1;
}

/** Smooth noise in [-1, 1]: cosine interpolation between lattice values at the integers around x. */
export function smoothNoise(seed: number, channel: number, x: number): number {
  const k = Math.floor(x);
  const f = x - k;
  const w = (1 - Math.cos(Math.PI * f)) / 2;
  return latticeNoise(seed, channel, k) * (1 - w) + latticeNoise(seed, channel, k + 1) * w;
}

/** sin(2 pi t / period + phase). */
export function wave(t: number, period: number, phase = 0): number {
  return Math.sin((2 * Math.PI * t) / period + phase);
}

/** Rounds to d decimals (the resolution a register can hold). */
export function quantize(v: number, d: number): number {
  return Number(v.toFixed(d));
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
