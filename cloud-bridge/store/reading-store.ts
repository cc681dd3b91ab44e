import type { Value } from '../../core/reading.js';
import type { CatalogData, DecodedBatch } from '../../proto/codec.js';
import type { AnalyticsStore, AlarmStore } from './analytics-types.js';

/** What writeBatch did with a batch; the ingest turns it into the Ack. */
export type WriteOutcome =
  /** Readings not stored before were committed durably (`skipped` were already covered by overlapping batches). */
  | { result: 'ok'; stored: number; skipped: number }
  /** Nothing new: the same key with the same content, or every reading already covered. The range is recorded. */
  | { result: 'duplicate'; stored: 0; skipped: number }
  /** The same key was stored earlier with other content; nothing stored, the bytes are quarantined. */
  | { result: 'rejected'; reasonCode: 'replay_conflict'; reason: string }
  /** The batch reuses seqs stored under another epoch of the producer (a restored edge database): nothing stored, quarantined. */
  | { result: 'rejected'; reasonCode: 'epoch_regression'; reason: string }
  /** Tags not in the gateway's catalog for this producer; nothing stored. */
  | { result: 'retry'; reasonCode: 'unknown_tag'; reason: string; tagIds: number[] };

export interface WriteContext {
  receivedMs: number;
  /** The batch as received, kept in quarantine on a replay conflict. */
  bytes: Uint8Array;
  /** Fault-injection point of the C2 test: called inside the transaction, after the inserts and before COMMIT. */
  beforeCommit?: () => void;
}

export interface SeriesQuery {
  gateway: string;
  key: string;
  /** Inclusive, ms since epoch. */
  fromMs?: number;
  /** Exclusive, ms since epoch. */
  toMs?: number;
  limit: number;
  /** Continue after this (ts, id), from the previous page's `next`. */
  after?: { ts: number; id: number };
}

export interface StoredReading {
  id: number;
  ts: number;
  value: Value;
  quality: number;
  epoch: number;
  seq: number;
  historical: boolean;
}

export interface TagRow {
  gateway: string;
  key: string;
  tagId: number;
  device: string;
  unit: string;
  dataType: string;
  description: string;
}

export interface LatestRow extends TagRow {
  /** Source time (the device's or the edge's clock). */
  ts: number;
  value: Value;
  quality: number;
  /** When the cloud received it (the cloud's clock); 0 for a value stored before schema 6. */
  receivedMs: number;
}

/** Readings: idempotent durable write, raw range query, latest values. */
export interface ReadingStore {
  /** Dedupe, catalog check, insert and latest update in one durable transaction. */
  writeBatch(gateway: string, batch: DecodedBatch, ctx: WriteContext): Promise<WriteOutcome>;
  query(q: SeriesQuery): Promise<{ tag: TagRow; readings: StoredReading[] } | null>;
  latest(filter: { gateway?: string }): Promise<LatestRow[]>;
  close(): Promise<void>;
}

export interface DeviceRow {
  gateway: string;
  name: string;
  driver: string;
  endpoint: string;
  /** Newest source time among the device's latest readings, null when none. */
  lastReadingMs: number | null;
}

/** The gateways' tag catalogs (series) and devices. */
export interface CatalogStore {
  upsertCatalog(gateway: string, catalog: CatalogData): Promise<void>;
  tags(filter: { gateway?: string }): Promise<TagRow[]>;
  devices(filter: { gateway?: string }): Promise<DeviceRow[]>;
}

export interface GatewayRow {
  id: string;
  tenant: string;
  online: boolean;
  lastSeenMs: number | null;
  epoch: number | null;
  producerId: string | null;
  readingsStored: number;
  health: unknown;
  healthMs: number | null;
  /** The gateway's clock minus the cloud's as of its last batch, ms; null before any batch with a send time. */
  clockSkewMs: number | null;
}

/** Registered gateways, their presence, status and last health. */
export interface GatewayStore {
  registerGateways(list: { id: string; tenant: string }[]): Promise<void>;
  setPresence(gateway: string, p: { online: boolean; atMs: number; epoch?: number; producerId?: string }): Promise<void>;
  setHealth(gateway: string, healthJson: string, atMs: number): Promise<void>;
  gateways(filter: { tenant?: string }): Promise<GatewayRow[]>;
}

export interface QuarantineEntry {
  gateway: string;
  /** Topic kind the bytes came on: data, catalog, ... */
  kind: string;
  receivedMs: number;
  reasonCode: string;
  reason: string;
  key?: { producerId: string; epoch: number; seqFirst: number; count: number };
  bytes: Uint8Array;
}

/** Poison input set aside with its reason. */
export interface QuarantineStore {
  quarantine(entry: QuarantineEntry): Promise<void>;
  quarantineCount(gateway?: string): Promise<number>;
  /** Entries and bytes the gateway's quarantine holds now, and entries deleted to stay within its bounds (quarantine-bounds.ts). */
  quarantineUsage(gateway: string): Promise<{ rows: number; bytes: number; evicted: number }>;
}

/**
 * The seq ranges of a producer's stored batches (any epoch) that overlap [seqFirst, seqLast], sorted:
 * an ingest worker confirms a gap against the store before reporting it (another worker behind a
 * shared subscription may have stored the missing batches).
 */
export interface SeqCoverageStore {
  storedRanges(gateway: string, producerId: string, seqFirst: number, seqLast: number): Promise<{ seqFirst: number; seqLast: number }[]>;
}

export interface RegistryGateway {
  id: string;
  tenant: string;
  /** scrypt hash; null for a gateway that authenticates with its client certificate only. */
  passwordHash: string | null;
  revoked: boolean;
}

/** What a token opens: 'tenant' = that tenant's data and alarms; 'platform' = the cloud-wide operator figures (/metrics), no tenant data. */
export type TokenScope = 'tenant' | 'platform';

/** A scope column read back from a store (anything unknown is the narrower 'tenant'). */
export function tokenScope(s: string): TokenScope {
  return s === 'platform' ? 'platform' : 'tenant';
}

export interface RegistryToken {
  id: string;
  /** '' for a platform token. */
  tenant: string;
  scope: TokenScope;
  /** scrypt hash of the token secret. */
  tokenHash: string;
  revoked: boolean;
}

export interface RegistrySnapshot {
  /** Bumped by every change; the broker and ingest reload when it moves. */
  revision: number;
  tenants: string[];
  gateways: RegistryGateway[];
  tokens: RegistryToken[];
}

/** One registry change, applied in one transaction; a violated rule throws RegistryError. */
export type RegistryChange =
  | { op: 'addTenant'; id: string; atMs: number }
  | { op: 'addGateway'; id: string; tenant: string; passwordHash: string | null; atMs: number }
  | { op: 'revokeGateway'; id: string; atMs: number }
  /** A platform token ignores `tenant` (stored as ''). */
  | { op: 'addToken'; id: string; tenant: string; scope: TokenScope; tokenHash: string; atMs: number }
  /** An API token (and alarm-reader login) stops working: its hash is dropped, the id is never reused. */
  | { op: 'revokeToken'; id: string; atMs: number }
  /** Gateways listed in the config file: tenants created, gateways inserted or their hash updated; a revoked one stays revoked. */
  | { op: 'seedGateways'; gateways: { id: string; tenant: string; passwordHash: string }[]; atMs: number };

/** Tenants, gateways and API tokens: who may connect and read. */
export interface RegistryStore {
  registryRevision(): Promise<number>;
  loadRegistry(): Promise<RegistrySnapshot>;
  applyRegistry(change: RegistryChange): Promise<void>;
}

// --- analytics and alarms (issue 7): types in analytics-types.ts, SQL in sqlite-queries.ts / pg-queries.ts ---
export type { AggregateQuery, Bucket, AnalyticsStore, AlarmRecord, NewAlarm, AlarmFilter, AlarmStore } from './analytics-types.js';

/** Raw-data retention (config `retention.rawDays`). */
export interface RetentionStore {
  /**
   * Deletes the raw readings with a source time before `beforeMs` rounded down to a whole minute (so
   * no minute is ever half pruned). The one-minute rollups of that range are brought up to date first
   * and are never rebuilt afterwards (a pruned minute keeps its rollup), so aggregates over whole
   * minutes of the pruned period keep their exact values. `latest` and the batch (dedupe) records
   * stay. Returns how many readings were deleted.
   */
  pruneRaw(beforeMs: number): Promise<{ deleted: number }>;
}

/** Everything the cloud bridge needs from a store: SQLite (embedded) or PostgreSQL. */
/** Liveness of the store itself (the cloud's /healthz). */
export interface StoreProbe {
  /** The store answers a read. */
  ping(): Promise<void>;
  /** The store commits a write (one row, durably): it fails while the disk is full or the database refuses writes. */
  probeWrite(atMs: number): Promise<void>;
}

export type CloudStore = ReadingStore & CatalogStore & GatewayStore & QuarantineStore & SeqCoverageStore & RegistryStore & AnalyticsStore & AlarmStore & RetentionStore & StoreProbe;
