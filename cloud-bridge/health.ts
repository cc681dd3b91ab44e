import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import type { StoreProbe, AlarmStore } from './store/reading-store.js';

/** One reason the cloud bridge cannot do its job now. */
export interface HealthReason { code: HealthCode; detail: string }
export type HealthCode = 'store_unreachable' | 'store_unwritable' | 'broker_down' | 'ingest_saturated';

export interface CloudHealthReport {
  status: 'ok' | 'error';
  reasons: HealthReason[];
  store: { lastProbeOkMs: number; lastProbeErrorMs: number; lastWriteOkMs: number; lastWriteErrorMs: number; lastError: string };
  /** Operator alarms (not a tenant's): active now, or cleared since start. */
  alarms: OperatorAlarm[];
}

export interface OperatorAlarm { code: 'store_unwritable'; raisedMs: number; clearedMs: number | null; detail: string }

export interface CloudHealthOptions {
  /** How often the store gets a one-row durable write (and a read). */
  probeIntervalMs: number;
  /** A failed batch write counts for this long unless a write succeeds after it. */
  writeFailWindowMs: number;
  /** A message dropped for a full ingest queue makes the ingest saturated for this long. */
  overloadWindowMs: number;
}

export interface CloudHealthSources {
  store: StoreProbe & Pick<AlarmStore, 'insertAlarm' | 'clearAlarm'>;
  /** The ingest's record of the store's answers and of its last overload drop. */
  writes: { lastOkMs: number; lastErrorMs: number; lastError: string; lastOverloadMs: number };
  /** The broker (embedded: its listeners; external: the bus connection) accepts gateways. */
  brokerUp: () => boolean;
}

/**
 * The cloud bridge's own health, as a load balancer or an operator needs it: it is healthy only
 * while it can do its job. The store must answer reads and commit writes: a one-row durable write
 * every probeIntervalMs, plus the ingest's own batch writes (a failed batch write within
 * writeFailWindowMs and no success since is a failing store even when the small probe still fits,
 * e.g. into WAL space SQLite reuses). The broker must be listening (or connected), and the ingest
 * must not be dropping messages for a full queue. /healthz answers 503 with the reasons while any
 * fails. `store_unwritable` is an operator alarm: logged at error level, shown in /healthz and
 * /metrics at once (the store cannot record it while it refuses writes), and written to the alarm
 * history (tenant '') once the store takes writes again.
 */
export class CloudHealth {
  private readonly probe = { okMs: 0, errorMs: 0, error: '', readOk: true, readError: '' };
  private readonly alarms = new Map<OperatorAlarm['code'], OperatorAlarm>();
  private readonly unrecorded: OperatorAlarm[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly src: CloudHealthSources, private readonly opts: CloudHealthOptions, private readonly ctx: { logger: Logger; now: () => number }) {}

  start(): void {
    this.running = this.check();
    this.timer = setInterval(() => { this.running = this.check(); }, this.opts.probeIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Probes the store once and updates the operator alarms (the timer calls it; tests may too). */
  async check(): Promise<void> {
    const now = this.ctx.now();
    try {
      await this.src.store.ping();
      this.probe.readOk = true;
    } catch (err) {
      this.probe.readOk = false;
      this.probe.readError = errorMessage(err).slice(0, 300);
    }
    try {
      await this.src.store.probeWrite(now);
      this.probe.okMs = this.ctx.now();
    } catch (err) {
      this.probe.errorMs = this.ctx.now();
      this.probe.error = errorMessage(err).slice(0, 300);
    }
    const unwritable = this.reasons().find((r) => r.code === 'store_unwritable');
    this.setAlarm('store_unwritable', unwritable?.detail ?? null);
    if (!unwritable) await this.recordCleared();
  }

  report(): CloudHealthReport {
    const reasons = this.reasons();
    const w = this.src.writes;
    return {
      status: reasons.length === 0 ? 'ok' : 'error', reasons,
      store: { lastProbeOkMs: this.probe.okMs, lastProbeErrorMs: this.probe.errorMs, lastWriteOkMs: w.lastOkMs, lastWriteErrorMs: w.lastErrorMs, lastError: this.probe.error || w.lastError },
      alarms: [...this.alarms.values(), ...this.unrecorded.filter((a) => a.clearedMs !== null)].map((a) => ({ ...a })),
    };
  }

  private reasons(): HealthReason[] {
    const now = this.ctx.now();
    const w = this.src.writes;
    const out: HealthReason[] = [];
    if (!this.probe.readOk) out.push({ code: 'store_unreachable', detail: this.probe.readError });
    const probeFailing = this.probe.errorMs > this.probe.okMs;
    const batchFailing = w.lastErrorMs > w.lastOkMs && now - w.lastErrorMs <= this.opts.writeFailWindowMs;
    if (probeFailing || batchFailing) out.push({ code: 'store_unwritable', detail: `the store refuses writes: ${probeFailing ? this.probe.error : w.lastError}` });
    if (!this.src.brokerUp()) out.push({ code: 'broker_down', detail: 'the MQTT broker is not accepting gateways' });
    if (w.lastOverloadMs > 0 && now - w.lastOverloadMs <= this.opts.overloadWindowMs) out.push({ code: 'ingest_saturated', detail: 'the ingest dropped messages for a full queue in the last seconds (the edges resend them)' });
    return out;
  }

  private setAlarm(code: OperatorAlarm['code'], detail: string | null): void {
    const live = this.alarms.get(code);
    if (detail !== null && !live) {
      const a: OperatorAlarm = { code, raisedMs: this.ctx.now(), clearedMs: null, detail };
      this.alarms.set(code, a);
      this.ctx.logger.error({ alarm: code, detail }, `ALARM raised (operator): ${detail}`);
    } else if (detail === null && live) {
      live.clearedMs = this.ctx.now();
      this.alarms.delete(code);
      this.unrecorded.push(live);
      this.ctx.logger.warn({ alarm: code, raisedMs: live.raisedMs }, 'ALARM cleared (operator): the store takes writes again');
    }
  }

  /** Writes cleared operator alarms to the alarm history (tenant ''), now that the store takes writes. */
  private async recordCleared(): Promise<void> {
    while (this.unrecorded.length > 0) {
      const a = this.unrecorded[0]!;
      try {
        const rec = await this.src.store.insertAlarm({ tenant: '', gateway: '', source: 'store', rule: 'cloud-health', type: a.code, severity: 'critical', message: a.detail, raisedMs: a.raisedMs, value: null, limit: null });
        await this.src.store.clearAlarm(rec.id, a.clearedMs!, null);
      } catch (err) {
        this.ctx.logger.warn({ err: errorMessage(err) }, 'operator alarm not recorded yet');
        return;
      }
      this.unrecorded.shift();
    }
  }
}
