import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { AttributeIds, resolveNodeId, type DataValue } from 'node-opcua-client';
import { Backoff } from '../../core/backoff.js';
import { ConfigError, NotConnectedError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { Quality, isGood } from '../../core/quality.js';
import type { Reading } from '../../core/reading.js';
import type { DeviceHealth, Driver, DriverContext, Point } from '../driver.js';
import { classifyOpcuaError, describeFault, type OpcuaFault } from './classify.js';
import { opcuaDeviceSchema, opcuaEndpoint, type OpcuaDevice, type OpcuaTag } from './config.js';
import { badReading, toReading } from './convert.js';
import { OpcuaHealth, certificateTimeState } from './health.js';
import { acquireCertificateManager, openSession, releaseCertificateManager, routeNodeOpcuaLogs, type OpcuaSession } from './session.js';

export type OpcuaPoint = Point<OpcuaTag>;
export const BadNodeIdInvalid = 0x80330000;

/** Points whose NodeId node-opcua cannot parse get BadNodeIdInvalid and are never sent. */
export function splitValidNodeIds(points: OpcuaPoint[]): { valid: OpcuaPoint[]; invalid: OpcuaPoint[] } {
  const valid: OpcuaPoint[] = [];
  const invalid: OpcuaPoint[] = [];
  for (const p of points) {
    try {
      resolveNodeId(p.config.nodeId);
      valid.push(p);
    } catch {
      invalid.push(p);
    }
  }
  return { valid, invalid };
}

/**
 * OPC UA client driver, polled mode (Read service every pollIntervalMs); OpcuaSubscribingDriver adds
 * subscriptions. One client + session per device, opened lazily with jittered backoff; node-opcua's
 * own reconnect loop is off, a lost connection is dropped and rebuilt from scratch. read() never
 * rejects because of the server: failures come back as Bad readings with the OPC UA status code.
 */
export class OpcuaDriver implements Driver<OpcuaTag> {
  readonly device: OpcuaDevice;
  readonly endpoint: string;
  protected readonly log: Logger;
  protected readonly now: () => number;
  protected readonly backoff: Backoff;
  protected readonly healthT = new OpcuaHealth();
  protected link: OpcuaSession | null = null;
  protected closed = false;
  protected lastFault: OpcuaFault | null = null;
  private opening: Promise<OpcuaSession> | null = null;
  private nextAttemptAt = 0;
  private cm: OPCUACertificateManager | null = null;
  private lastLoggedKind = '';

  constructor(device: OpcuaDevice, ctx: DriverContext) {
    const parsed = opcuaDeviceSchema.safeParse(device);
    if (!parsed.success) {
      throw new ConfigError(`device ${String((device as { name?: unknown }).name)}`, parsed.error.issues.map((i) => ({ path: i.path.filter((p) => typeof p !== 'symbol'), message: i.message })));
    }
    this.device = parsed.data;
    this.endpoint = opcuaEndpoint(this.device);
    this.log = ctx.logger.child({ component: 'opcua', device: this.device.name });
    this.now = ctx.now ?? Date.now;
    this.backoff = new Backoff({ initialMs: this.device.reconnectInitialMs, maxMs: this.device.reconnectMaxMs });
    routeNodeOpcuaLogs(ctx.logger);
  }

  async connect(): Promise<void> {
    await this.ensureSession(true);
  }

  /** The open session, or one connect attempt (unless the backoff says wait, or force). */
  protected async ensureSession(force = false): Promise<OpcuaSession> {
    if (this.link) return this.link;
    if (this.closed) throw new NotConnectedError('driver closed');
    if (!force && performance.now() < this.nextAttemptAt) throw new NotConnectedError(`not connected to ${this.endpoint}; next attempt in ${Math.round(this.nextAttemptAt - performance.now())} ms`);
    this.opening ??= this.open().finally(() => { this.opening = null; });
    return this.opening;
  }

  private async open(): Promise<OpcuaSession> {
    this.cm ??= await acquireCertificateManager(this.device.pkiDir);
    // The store's file watchers can miss a `jinyun certs trust` made just after the refusal: re-read the folders.
    if (this.lastFault?.kind.startsWith('BadCertificate')) await this.cm.reloadCertificates().catch(() => undefined);
    let me: OpcuaSession | null = null;
    let lostEarly: string | null = null;
    try {
      const s = await openSession({ device: this.device, cm: this.cm, onLost: (reason) => { if (!me) lostEarly = reason; else if (this.link === me) this.dropLink(reason); } });
      me = s;
      if (lostEarly !== null) { await s.close(); throw new NotConnectedError(lostEarly); }
      if (this.closed) { await s.close(); throw new NotConnectedError('driver closed'); }
      this.link = s;
      this.backoff.reset();
      this.lastFault = null;
      this.healthT.state('ok');
      this.checkCertificates(s);
      this.log.info({ endpoint: this.endpoint, user: this.device.user.type }, 'connected');
      this.lastLoggedKind = '';
      return s;
    } catch (err) {
      const msg = errorMessage(err);
      const fault = classifyOpcuaError(msg);
      this.lastFault = fault;
      this.healthT.error(fault.kind, describeFault(fault, msg, this.device.pkiDir));
      this.healthT.state('down');
      this.nextAttemptAt = performance.now() + this.backoff.next();
      if (fault.kind !== this.lastLoggedKind) {
        this.lastLoggedKind = fault.kind;
        const level = fault.quality === Quality.BadConfigurationError ? 'error' : 'warn';
        this.log[level]({ endpoint: this.endpoint, kind: fault.kind, err: msg }, 'cannot connect; will keep trying');
      }
      throw err;
    }
  }

  /** Certificates close to expiry (ours or the server's) show in health; they do not stop data. */
  private checkCertificates(s: OpcuaSession): void {
    const now = this.now();
    const check = (who: string, cert: Buffer | string | undefined): void => {
      if (!cert) return;
      try {
        const c = certificateTimeState(cert, now);
        this.healthT.warn(`${who}_certificate_expiring`, c.state === 'ok' ? null : `${who} certificate ${c.state === 'expiring' ? `expires in ${c.daysLeft} days` : c.state} (valid to ${c.validTo})`);
      } catch { /* not parseable as a single certificate: nothing to report */ }
    };
    if (this.device.securityMode === 'None') return;
    try { check('own', readFileSync(join(this.device.pkiDir, 'own/certs/client_certificate.pem'))); } catch { /* created elsewhere */ }
    const server = s.client.serverCertificate as Buffer | Buffer[] | undefined;
    check('server', Array.isArray(server) ? server[0] : server);
  }

  /** The connection broke: forget it, close it in the background, let a later attempt rebuild. */
  protected dropLink(reason: string): void {
    const link = this.link;
    if (!link) return;
    this.link = null;
    this.lastFault = { kind: 'connection_lost', quality: Quality.BadNoCommunication, hint: '' };
    this.healthT.error('connection_lost', `connection to ${this.endpoint} lost: ${reason}`);
    this.healthT.state('down');
    this.nextAttemptAt = performance.now() + this.backoff.next();
    if (!this.closed) this.log.warn({ endpoint: this.endpoint, reason }, 'connection lost; reconnecting');
    void link.close();
    this.onLinkLost(reason);
  }

  /** Hook for the subscribing driver. */
  protected onLinkLost(_reason: string): void {}

  async read(points: OpcuaPoint[], _signal?: AbortSignal): Promise<Reading[]> {
    const now = this.now();
    const { valid, invalid } = splitValidNodeIds(points);
    const out = new Map<number, Reading>(invalid.map((p) => [p.tagId, badReading(p.tagId, BadNodeIdInvalid, now)]));
    let link: OpcuaSession;
    try {
      link = await this.ensureSession();
    } catch {
      return points.map((p) => out.get(p.tagId) ?? badReading(p.tagId, this.lastFault?.quality ?? Quality.BadNotConnected, now));
    }
    const t0 = performance.now();
    try {
      for (let i = 0; i < valid.length; i += this.device.maxItemsPerCall) {
        const chunk = valid.slice(i, i + this.device.maxItemsPerCall);
        const dvs: DataValue[] = await link.session.read(chunk.map((p) => ({ nodeId: p.config.nodeId, attributeId: AttributeIds.Value })), 0);
        chunk.forEach((p, j) => { const dv = dvs[j]; out.set(p.tagId, dv ? toReading(p.tagId, dv, now) : badReading(p.tagId, Quality.BadUnexpectedError, now)); });
      }
    } catch (err) {
      this.dropLink(`read failed: ${errorMessage(err)}`);
      return points.map((p) => out.get(p.tagId) ?? badReading(p.tagId, Quality.BadCommunicationError, now));
    }
    const readings = points.map((p) => out.get(p.tagId) ?? badReading(p.tagId, Quality.BadUnexpectedError, now));
    this.healthT.read(points.length, readings.filter((r) => isGood(r.quality)).length, now, performance.now() - t0);
    return readings;
  }

  health(): DeviceHealth {
    return this.healthT.snapshot();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopping();
    await this.opening?.catch(() => undefined);
    const link = this.link;
    this.link = null;
    await link?.close();
    if (this.cm) await releaseCertificateManager(this.device.pkiDir);
    this.cm = null;
  }

  /** Hook for the subscribing driver: stop its loop before the session closes. */
  protected async stopping(): Promise<void> {}
}
