import { Backoff } from '../../core/backoff.js';
import { ConfigError, NotConnectedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { Quality } from '../../core/quality.js';
import type { Reading } from '../../core/reading.js';
import type { DeviceHealth, Driver, DriverContext, Point } from '../driver.js';
import { classifyFault, type Fault } from './classify-fault.js';
import { isBitTable, modbusDeviceSchemas, modbusEndpoint, modbusTagSchema, typeWidth, type ModbusDevice, type ModbusTag } from './config.js';
import { parseReadResponse, readRequestPdu } from './frames.js';
import { HealthTracker } from './health-tracker.js';
import { LineBackoffError } from './line.js';
import { sharedLines, type LineLease, type LineRegistry } from './line-registry.js';
import { planReads, splitRequest, tableLimits, type ReadRequest } from './planner.js';
import { compileDecoder, type TagDecoder } from './tag-decoder.js';

export { modbusEndpoint };

type ModbusPoint = Point<ModbusTag>;

interface CompiledRequest {
  req: ReadRequest<ModbusPoint>;
  pdu: Buffer;
  /** "fc:start:count", for log-once bookkeeping. */
  key: string;
  decoders: TagDecoder[];
  retry: RequestRetry;
}

/** Per request (kept across plans): after illegal address / busy it is not sent again before retryAt. */
interface RequestRetry {
  retryAt: number;
  lastFault: Fault | null;
  backoff: Backoff;
}

interface CompiledPlan {
  /** Replaced by smaller requests where the device refuses a read of several tags. */
  requests: CompiledRequest[];
  /** Points whose config is not a valid Modbus tag: always BadConfigurationError, never sent. */
  invalid: { index: number; tagId: number }[];
}

export interface ModbusDriverContext extends DriverContext {
  /** Where lines are shared; the process-wide registry when omitted. */
  lines?: LineRegistry;
}

const NOT_CONNECTED: Fault = { kind: 'not_connected', quality: Quality.BadNotConnected, message: 'not connected', reconnect: false, deviceDown: false, configProblem: false };
/** Faults after which the rest of the poll is not sent and the device waits a backoff. */
const DEVICE_FAULTS = new Set(['timeout', 'connection']);

function parseDevice(device: ModbusDevice): ModbusDevice {
  const schema = modbusDeviceSchemas[device.type] as (typeof modbusDeviceSchemas)['modbus-tcp'] | undefined;
  const parsed = schema?.safeParse(device);
  if (!parsed?.success) {
    const issues = parsed?.error.issues.map((i) => ({ path: i.path.filter((p) => typeof p !== 'symbol'), message: i.message })) ?? [{ path: ['type'], message: `unknown Modbus device type ${String(device.type)}` }];
    throw new ConfigError(`device ${String((device as { name?: unknown }).name)}`, issues);
  }
  return parsed.data as ModbusDevice;
}

/**
 * Modbus client driver for TCP, RTU on a serial line and RTU over TCP. Reads are planned into few
 * block requests (planner.ts) and sent on the device's line (line.ts), which it may share with
 * other unit ids: one request in flight per line, each with a deadline of timeoutMs. A failed
 * request marks only its points Bad. After a timeout or a connection failure the rest of the poll
 * is skipped and the device waits a jittered backoff, so a dead unit costs the line at most one
 * timeout per backoff. Illegal address/function/value answers stop retries of that request with a
 * capped exponential backoff; busy answers retry after one backoff step. read() never rejects
 * except when its signal aborts.
 */
export class ModbusDriver implements Driver<ModbusTag> {
  readonly device: ModbusDevice;
  readonly endpoint: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly backoff: Backoff;
  private readonly lines: LineRegistry;
  private readonly healthTracker = new HealthTracker();
  private readonly plans = new WeakMap<readonly ModbusPoint[], CompiledPlan>();
  /** Requests whose failure was logged, with the fault kind; cleared when they answer again. */
  private readonly warned = new Map<string, string>();
  private readonly retries = new Map<string, RequestRetry>();
  /** Requests ("fc:start:count") the device refused with exception 2 or 3: planned as smaller ones. */
  private readonly refusedReads = new Set<string>();
  private lease: LineLease | null;
  private tail: Promise<unknown> = Promise.resolve();
  private retryAt = 0;
  private outageSince = 0;

  constructor(device: ModbusDevice, ctx: ModbusDriverContext) {
    this.device = parseDevice(device);
    this.endpoint = modbusEndpoint(this.device);
    this.log = ctx.logger.child({ component: 'modbus', device: this.device.name });
    this.now = ctx.now ?? Date.now;
    this.backoff = new Backoff({ initialMs: this.device.reconnectInitialMs, maxMs: this.device.reconnectMaxMs });
    this.lines = ctx.lines ?? sharedLines;
    this.lease = this.lines.acquire(this.device);
  }

  /** Opens the line now (ignoring any backoff). Rejects with NotConnectedError; read() keeps trying anyway. */
  async connect(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.lease ??= this.lines.acquire(this.device);
    try {
      await this.lease.line.connect(this.device.timeoutMs);
    } catch (err) {
      this.healthTracker.disconnected();
      this.healthTracker.error(classifyFault(err).kind, `connect: ${String((err as Error).message)}`);
      throw err instanceof NotConnectedError ? err : new NotConnectedError(`${this.endpoint}: ${(err as Error).message}`, { cause: err });
    }
  }

  read(points: ModbusPoint[], signal?: AbortSignal): Promise<Reading[]> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const run = this.tail.then(() => this.readNow(points, signal));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    this.lease = null;
    await this.tail;
    await lease.release();
    this.log.info({ endpoint: this.endpoint }, 'modbus device closed');
  }

  health(): DeviceHealth {
    return this.healthTracker.snapshot();
  }

  /** Plans are cached per points array: the poller passes the same array every time. */
  private planFor(points: readonly ModbusPoint[]): CompiledPlan {
    const cached = this.plans.get(points);
    if (cached) return cached;
    const valid: ModbusPoint[] = [];
    const validIndex: number[] = [];
    const invalid: CompiledPlan['invalid'] = [];
    points.forEach((p, index) => {
      const tag = modbusTagSchema.safeParse(p.config);
      if (tag.success && (isBitTable(tag.data.table) || typeWidth(tag.data) <= tableLimits(tag.data.table, this.device).maxCount)) {
        valid.push({ ...p, config: tag.data });
        validIndex.push(index);
      } else invalid.push({ index, tagId: p.tagId });
    });
    if (invalid.length > 0) this.log.error({ endpoint: this.endpoint, tagIds: invalid.map((i) => i.tagId) }, 'points with an invalid Modbus tag config; they stay BadConfigurationError');
    const requests = planReads(valid, (p) => p.config, this.device).flatMap((req) => {
      for (const pp of req.points) pp.index = validIndex[pp.index]!;
      return this.refine(req);
    });
    const plan = { requests, invalid };
    this.plans.set(points, plan);
    return plan;
  }

  private compile(req: ReadRequest<ModbusPoint>): CompiledRequest {
    const decoders = req.points.map((pp) => compileDecoder(pp.point.config, this.device.wordOrder));
    const key = `${req.fc}:${req.start}:${req.count}`;
    let retry = this.retries.get(key);
    if (!retry) {
      retry = { retryAt: 0, lastFault: null, backoff: new Backoff({ initialMs: this.device.reconnectInitialMs, maxMs: this.device.reconnectMaxMs }) };
      this.retries.set(key, retry);
    }
    return { req, pdu: readRequestPdu(req.fc, req.start, req.count), key, decoders, retry };
  }

  /** A planned request, or the smaller ones it became because the device refused it (kept for every later plan). */
  private refine(req: ReadRequest<ModbusPoint>): CompiledRequest[] {
    const parts = this.refusedReads.has(`${req.fc}:${req.start}:${req.count}`) ? splitRequest(req, (p) => p.config, this.device) : [];
    return parts.length === 0 ? [this.compile(req)] : parts.flatMap((q) => this.refine(q));
  }

  /**
   * A device that refuses a read of several tags (exception 2 or 3: it rejects reads across
   * addresses it does not implement, or that long) gets those tags in smaller requests from the
   * next poll on: no gaps, then one per tag; a single tag it refuses stays BadConfigurationError.
   */
  private split(plan: CompiledPlan, refused: Set<CompiledRequest>): void {
    for (const c of refused) {
      if (c.req.points.length < 2) continue;
      this.refusedReads.add(c.key);
      this.log.warn({ endpoint: this.endpoint, fc: c.req.fc, start: c.req.start, count: c.req.count }, 'device refuses this read of several tags; reading them in smaller requests');
    }
    plan.requests = plan.requests.flatMap((c) => (refused.has(c) ? this.refine(c.req) : [c]));
  }

  private async readNow(points: ModbusPoint[], signal?: AbortSignal): Promise<Reading[]> {
    const plan = this.planFor(points);
    const { requests, invalid } = plan;
    const refused = new Set<CompiledRequest>();
    const out = new Array<Reading>(points.length);
    for (const { index, tagId } of invalid) out[index] = { tagId, ts: this.now(), value: null, quality: Quality.BadConfigurationError };
    const t = performance.now();
    let broken: Fault | null = !this.lease || t < this.retryAt ? NOT_CONNECTED : null;
    let good = 0;
    let deviceDown = requests.length > 0;
    for (const c of requests) {
      if (!broken && c.retry.retryAt > performance.now() && c.retry.lastFault) {
        this.fill(out, c, c.retry.lastFault.quality);
        deviceDown = false;
        continue;
      }
      const result = broken ?? (await this.request(c, out, signal));
      if (typeof result === 'number') {
        good += result;
        deviceDown = false;
        continue;
      }
      if (result === broken) this.fill(out, c, result.quality);
      else if (result.exceptionCode === 2 || result.exceptionCode === 3) refused.add(c);
      deviceDown &&= result.deviceDown;
      if (!broken && (DEVICE_FAULTS.has(result.kind) || result.deviceDown || result === NOT_CONNECTED)) {
        broken = result;
        if (result !== NOT_CONNECTED) this.retryAt = performance.now() + this.backoff.next();
      }
    }
    if (refused.size > 0) this.split(plan, refused);
    if (good > 0 && this.outageSince > 0) {
      this.log.info({ endpoint: this.endpoint, outageMs: Math.round(performance.now() - this.outageSince) }, 'modbus device reachable again');
      this.outageSince = 0;
    }
    const unreachable = this.lease?.line.unreachable ?? true;
    this.healthTracker.read({ points: points.length, good, nowMs: this.now(), unreachable: unreachable && good === 0, deviceDown });
    return out;
  }

  /** Sends one request and fills its readings; returns how many are Good, or the fault. */
  private async request(c: CompiledRequest, out: Reading[], signal?: AbortSignal): Promise<number | Fault> {
    const t0 = performance.now();
    const line = this.lease!.line;
    try {
      const pdu = await line.request(this.device.unitId, c.pdu, this.device.timeoutMs, signal);
      this.healthTracker.rtt(performance.now() - t0);
      this.backoff.reset(); // the device answered: the link is fine
      const data = parseReadResponse(c.req.fc, c.req.count, pdu);
      const good = this.decodeInto(out, c, data, this.now());
      c.retry.backoff.reset();
      c.retry.retryAt = 0;
      this.recovered(c);
      return good;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof LineBackoffError) {
        this.fill(out, c, NOT_CONNECTED.quality);
        return NOT_CONNECTED;
      }
      const f = classifyFault(err);
      this.fill(out, c, f.quality);
      this.failed(f, c);
      return f;
    }
  }

  private decodeInto(out: Reading[], c: CompiledRequest, data: ArrayLike<number>, ts: number): number {
    const decoded = c.req.points.map((pp, i) => c.decoders[i]!(data, pp.offset));
    let good = 0;
    c.req.points.forEach((pp, i) => {
      const d = decoded[i]!;
      if (d.quality === Quality.Good) good++;
      else if (d.value === null) this.healthTracker.note('nan_value');
      else this.healthTracker.note('out_of_range');
      out[pp.index] = { tagId: pp.point.tagId, ts, value: d.value, quality: d.quality };
    });
    return good;
  }

  private fill(out: Reading[], c: CompiledRequest, quality: number): void {
    const ts = this.now();
    for (const pp of c.req.points) out[pp.index] = { tagId: pp.point.tagId, ts, value: null, quality };
  }

  private failed(f: Fault, c: CompiledRequest): void {
    this.healthTracker.error(f.kind, `FC${c.req.fc} ${c.req.start}+${c.req.count}: ${f.message}`);
    const r = c.retry;
    r.lastFault = f;
    if (f.configProblem) r.retryAt = performance.now() + r.backoff.next();
    else if (f.exceptionCode === 5 || f.exceptionCode === 6) {
      r.backoff.reset();
      r.retryAt = performance.now() + r.backoff.next();
    }
    if (DEVICE_FAULTS.has(f.kind)) {
      if (this.outageSince === 0) {
        this.outageSince = performance.now();
        this.log.warn({ endpoint: this.endpoint, kind: f.kind, err: f.message }, 'modbus device not answering; retrying with backoff');
      }
      return;
    }
    if (this.warned.get(c.key) === f.kind) return;
    this.warned.set(c.key, f.kind);
    const tags = c.req.points.map((pp) => pp.point.config.name);
    const fields = { endpoint: this.endpoint, fc: c.req.fc, start: c.req.start, count: c.req.count, tags, err: f.message };
    if (f.configProblem) this.log.warn(fields, 'device rejects this read; check table, address and type of these tags (retrying with backoff)');
    else this.log.warn(fields, 'device answered this read with an error; retrying');
  }

  private recovered(c: CompiledRequest): void {
    if (this.warned.delete(c.key)) this.log.info({ endpoint: this.endpoint, fc: c.req.fc, start: c.req.start, count: c.req.count }, 'read answers again');
  }
}

/** The former name, kept for callers written when only TCP existed. */
export { ModbusDriver as ModbusTcpDriver };
