import type { Logger } from '../core/logger.js';
import type { StoredBlock } from '../proto/codec.js';
import type { SpoolCaps } from './spool-policy.js';

/** The spool's options, defaults and the shapes it hands out. */
export interface SpoolOptions extends SpoolCaps {
  path: string;
  /** FULL: a commit survives power loss. NORMAL: survives a process crash; a power cut may roll back the last commits. */
  synchronous: 'FULL' | 'NORMAL';
  /** Hard quota of the file (0 = none): beyond it SQLite reports SQLITE_FULL, handled like a full disk. */
  maxFileBytes: number;
  maxBlockReadings: number;
  maxBlockBytes: number;
  /** The WAL is checkpointed and truncated after ACKs at most this often, and at once when a backlog of 100,000+ readings has drained. */
  checkpointIntervalMs?: number;
  logger: Logger;
  now?: () => number;
}

export const SPOOL_DEFAULTS = { maxReadings: 10_000_000, maxBytes: 2 * 1024 ** 3, maxAgeMs: 0, policy: 'dropOldest', maxFileBytes: 0, maxBlockReadings: 5000, maxBlockBytes: 128 * 1024 } as const;

export interface BatchLimits {
  maxReadings: number;
  maxBytes: number;
  /** Readings older than this (source time vs. now) are flagged historical. */
  historicalAfterMs: number;
}

/** A sealed batch: whole blocks covering [seqFirst, seqLast] of one epoch, resent exactly as first sent. */
export interface SpoolBatch {
  epoch: number;
  seqFirst: number;
  seqLast: number;
  count: number;
  blocks: StoredBlock[];
  historical: boolean;
  attempts: number;
}

export interface AppendResult {
  stored: number;
  dropped: number;
}

export interface SpoolStats {
  depth: number;
  bytes: number;
  oldestTs: number | null;
  sealedBatches: number;
  appended: number;
  acked: number;
  dropped: number;
  droppedBySource: Record<string, number>;
  quarantined: number;
  /** WAL checkpoints (TRUNCATE) done since start. */
  checkpoints: number;
  diskFull: boolean;
  lastError: string;
}
