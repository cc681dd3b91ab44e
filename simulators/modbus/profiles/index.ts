import type { SimProfile } from '../profile.js';
import { CoalMineProfile } from './coal-mine.js';
import { SteelPlantProfile } from './steel-plant.js';

/** Every simulator profile, listed explicitly. */
export const PROFILES: Record<string, (opts: { seed?: number }) => SimProfile> = {
  'coal-mine': (opts) => new CoalMineProfile(opts),
  'steel-plant': (opts) => new SteelPlantProfile(opts),
};

export function profileNames(): string[] {
  return Object.keys(PROFILES);
}

/** Throws a RangeError naming the known profiles for an unknown name. */
export function createProfile(name: string, opts: { seed?: number } = {}): SimProfile {
  const make = Object.hasOwn(PROFILES, name) ? PROFILES[name] : undefined;
  if (!make) throw new RangeError(`unknown simulator profile "${name}"; known: ${profileNames().join(', ')}`);
  return make(opts);
}
