/** What the spool does when a cap is reached (or the disk is full). */
export type SpoolPolicy = 'dropOldest' | 'dropNewest' | 'block';

export interface SpoolCaps {
  /** Readings kept at most. */
  maxReadings: number;
  /** Encoded bytes of the kept readings at most (the file is a little larger). */
  maxBytes: number;
  /** Readings appended longer ago than this are dropped (0 = no age limit). */
  maxAgeMs: number;
  policy: SpoolPolicy;
}

export interface Usage {
  readings: number;
  bytes: number;
}

/** How much must go so that `incoming` fits under the caps; {0, 0} when it fits already. */
export function overflow(caps: SpoolCaps, used: Usage, incoming: Usage): Usage {
  return {
    readings: Math.max(0, used.readings + incoming.readings - caps.maxReadings),
    bytes: Math.max(0, used.bytes + incoming.bytes - caps.maxBytes),
  };
}

export const fits = (o: Usage): boolean => o.readings === 0 && o.bytes === 0;
