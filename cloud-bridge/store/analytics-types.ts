import type { TagRow } from './reading-store.js';

/** Aggregated series: buckets aligned on multiples of bucketMs since 1970 (a 1-day bucket starts at 00:00 UTC). */
export interface AggregateQuery {
  gateway: string;
  key: string;
  /** Inclusive, ms since epoch. */
  fromMs: number;
  /** Exclusive, ms since epoch. */
  toMs: number;
  bucketMs: number;
}

/**
 * One time bucket over the readings that carry a numeric value (double, bool as 0/1, 64-bit
 * integers as their nearest double) and are not of bad quality. first/last are the values with
 * the smallest/largest source time (ties: the first stored for first, the last stored for last).
 */
export interface Bucket {
  ts: number;
  count: number;
  min: number;
  max: number;
  avg: number;
  first: number;
  last: number;
}

/** Aggregates computed by the database (GROUP BY bucket), never in JavaScript over raw rows. */
export interface AnalyticsStore {
  /** null when the gateway has no such tag. Buckets without readings are absent. */
  aggregate(q: AggregateQuery): Promise<{ tag: TagRow; buckets: Bucket[] } | null>;
}

export type AlarmType = 'high' | 'low' | 'rate' | 'stale' | 'device_down' | 'gateway_offline' | 'data_gap' | IntegrityAlarmType | 'quarantine_full' | 'store_unwritable' | 'clock_skew';
/** Built-in, always-on alarms of the ingest: a sequence range came again with other content, or an older epoch came back. */
export type IntegrityAlarmType = 'replay_conflict' | 'epoch_regression';
export type AlarmSeverity = 'info' | 'warning' | 'alarm' | 'critical';

export interface NewAlarm {
  tenant: string;
  gateway: string;
  /** Tag key (device/tag), device name, or '' for the gateway itself. */
  source: string;
  /** Name of the rule that raised it. */
  rule: string;
  type: AlarmType;
  severity: AlarmSeverity;
  message: string;
  raisedMs: number;
  value: number | null;
  limit: number | null;
}

export interface AlarmRecord extends NewAlarm {
  id: number;
  clearedMs: number | null;
  clearValue: number | null;
  ackBy: string | null;
  ackMs: number | null;
}

export interface AlarmFilter {
  tenant?: string;
  gateway?: string;
  /** true: not cleared yet; false: cleared; undefined: both. */
  active?: boolean;
  /** Newest first; continue below this id (the previous page's `next`). */
  beforeId?: number;
  limit: number;
}

/** Alarms: stored when raised, updated when cleared or acknowledged; never deleted. */
export interface AlarmStore {
  insertAlarm(a: NewAlarm): Promise<AlarmRecord>;
  clearAlarm(id: number, atMs: number, value: number | null): Promise<void>;
  /** Acknowledges an alarm of the tenant (any tenant when undefined); null when there is no such alarm; an alarm keeps its first acknowledgement. */
  ackAlarm(id: number, by: string, atMs: number, tenant?: string): Promise<AlarmRecord | null>;
  alarms(filter: AlarmFilter): Promise<AlarmRecord[]>;
}
