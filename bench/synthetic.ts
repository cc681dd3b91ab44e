/**
 * Synthetic coal-mine sensor series for benchmarks: slowly varying values quantised like the
 * registers they come from (methane in 0.01 %, CO in ppm, temperatures in 0.1 degC, ...).
 */
export interface SyntheticSeries {
  key: string;
  unit: string;
  next(ts: number): number;
}

function series(key: string, unit: string, base: number, amplitude: number, periodS: number, step: number, noise: number): SyntheticSeries {
  let seed = key.split('').reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261) >>> 0;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  return {
    key, unit,
    next(ts) {
      const v = base + amplitude * Math.sin((2 * Math.PI * ts) / 1000 / periodS) + (rnd() - 0.5) * noise;
      return Math.round(v / step) * step;
    },
  };
}

export function coalMineSeries(): SyntheticSeries[] {
  return [
    series('gas-face/methane', '%CH4', 0.42, 0.12, 900, 0.01, 0.02),
    series('gas-face/co', 'ppm', 8, 4, 1200, 1, 1),
    series('gas-face/temperature', 'degC', 24.5, 1.5, 3600, 0.1, 0.2),
    series('gas-return/methane', '%CH4', 0.31, 0.08, 700, 0.01, 0.02),
    series('main-fan/wind-speed', 'm/s', 3.2, 0.4, 600, 0.01, 0.05),
    series('main-fan/current', 'A', 182, 6, 300, 0.1, 1.5),
    series('main-fan/running', '', 1, 0, 1, 1, 0),
    series('pump-1/sump-level', 'm', 2.4, 0.6, 1800, 0.01, 0.01),
    series('pump-1/running', '', 1, 0, 1, 1, 0),
    series('pump-1/flow', 'm3/h', 96, 10, 900, 0.1, 0.8),
  ];
}
