import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import type { CloudConfig } from './config.js';
import type { Registry } from './registry.js';
import { LoginGuard } from './login-throttle.js';
import { PasswordChecker } from './password-checker.js';
import type { Identity } from './acl.js';
import { brokerHooks, remoteOf } from './broker-hooks.js';
import { GuardedSocket, type GuardRefusal } from './packet-size-guard.js';
import { clientErrorReason } from './client-errors.js';
import { LogLimiter, bump, counterMap, type CounterMap } from './metrics.js';

export interface BrokerMetrics {
  /** Open TCP connections (authenticated or not). */
  connections: number;
  connects: number;
  disconnects: number;
  clientErrors: number;
  keepaliveTimeouts: number;
  /** Every refusal by reason: auth_* (bad_password, unknown_gateway, revoked, throttled, ...), publish_*, subscribe_denied, forward_denied, packet_too_large, conn_limit_*, ... */
  refusals: CounterMap;
}

export interface PresenceEvent {
  gateway: string;
  tenant: string;
  online: boolean;
  atMs: number;
}

export interface BrokerOptions {
  mqtt: CloudConfig['mqtt'];
  registry: Registry;
}

export interface BrokerContext {
  logger: Logger;
  /** Shared with the API's token checks (bridge.ts); a broker of its own makes one. */
  passwords?: PasswordChecker;
  now?: () => number;
  /** Called when a gateway's connection is registered (online) or gone (offline). */
  onPresence?: (e: PresenceEvent) => void;
  /** Runs after aedes is set up and before the port opens, e.g. to subscribe the ingest so no early message is missed. */
  beforeListen?: (aedes: Aedes) => Promise<void>;
}

export interface Broker {
  readonly aedes: Aedes;
  /** Plain MQTT port (0 when the plain listener is off). */
  readonly port: number;
  /** TLS port (0 when there is no TLS listener). */
  readonly tlsPort: number;
  readonly metrics: BrokerMetrics;
  /** Gateways with a live authenticated connection. */
  online(): string[];
  /** True while every listener accepts connections. */
  listening(): boolean;
  close(): Promise<void>;
}

/**
 * The embedded MQTT broker: aedes behind a packet-size guard on a plain TCP and/or a TLS listener
 * (optionally mutual TLS), with per-IP and per-tenant connection limits, registry authentication
 * (scrypt or client certificate) with failed-login throttling, topic ACLs bound to the credential,
 * and immediate disconnection of revoked gateways.
 */
export async function startBroker(opts: BrokerOptions, ctx: BrokerContext): Promise<Broker> {
  const m = opts.mqtt;
  const log = ctx.logger.child({ component: 'broker' });
  const now = ctx.now ?? Date.now;
  const identities = new WeakMap<Client, Identity>();
  const limiter = new LogLimiter(60_000, now);
  const metrics: BrokerMetrics = { connections: 0, connects: 0, disconnects: 0, clientErrors: 0, keepaliveTimeouts: 0, refusals: counterMap() };
  const refuse = (reason: string, fields: Record<string, unknown>): void => {
    bump(metrics.refusals, reason);
    // One line a minute per (reason, source address): the address, not a claimed id (an attacker picks ids freely), and every field cut short.
    const source = String(fields.remote ?? fields.gateway ?? '?').slice(0, 64);
    if (limiter.allow(`${reason}\u0000${source}`)) log.warn({ reason, ...boundedFields(fields), total: metrics.refusals[reason] }, 'refused');
  };

  const throttle = new LoginGuard({ limit: m.failedLoginLimit, windowMs: m.failedLoginWindowMs, firstDelayMs: m.loginDelayMs, maxDelayMs: m.loginLockoutMs, now });
  const clients = (): Client[] => Object.values((aedes as unknown as { clients: Record<string, Client> }).clients);
  const aedes = await Aedes.createBroker({
    connectTimeout: m.connectTimeoutMs,
    keepaliveLimit: m.keepaliveLimitS,
    maxClientsIdLength: m.maxClientIdLength, // MQTT 3.1 only in aedes; broker-hooks checks every level
    drainTimeout: m.drainTimeoutMs,
    heartbeatInterval: m.heartbeatIntervalMs,
    maxTopicLevels: 16,
    ...brokerHooks({
      registry: opts.registry, identities, passwords: ctx.passwords ?? new PasswordChecker({ hashConcurrency: m.hashConcurrency, maxQueued: m.maxConcurrentAuth }), maxClientIdLength: m.maxClientIdLength, throttle, refuse, log,
      maxConnectionsPerTenant: m.maxConnectionsPerTenant,
      // A gateway reconnecting while its old (maybe half-open) connection lingers replaces it (aedes takes the session over): not counted twice.
      tenantConnections: (tenant, except) => clients().filter((c) => c.id !== except && identities.get(c)?.tenant === tenant).length,
    }),
  });
  guardIncomingState(aedes);
  watchClients(aedes, identities, metrics, log, (who, online) => ctx.onPresence?.({ ...who, online, atMs: now() }), refuse);
  // Revocation (of a gateway, or of the API token an alarm reader logged in with): the registry noticed; the live connection goes now, its session with it (CR 2.6).
  opts.registry.onRevoked((gateway) => {
    for (const c of clients()) {
      const who = identities.get(c);
      if (who?.gateway !== gateway) continue; // a gateway, or an alarm reader logged in with the token
      bump(metrics.refusals, 'revoked_disconnect');
      log.warn({ [who.role === 'gateway' ? 'gateway' : 'reader']: gateway, remote: remoteOf(c) }, who.role === 'gateway' ? 'revoked gateway disconnected' : 'alarm reader of a revoked token disconnected');
      c.close();
    }
  });

  const sockets = new Set<Socket>();
  const perIp = new Map<string, number>();
  /** Admission on the TCP connection, before any TLS handshake or MQTT byte: per-IP limit, bookkeeping. */
  const admit = (socket: Socket): boolean => {
    const ip = socket.remoteAddress ?? '?';
    const n = (perIp.get(ip) ?? 0) + 1;
    if (n > m.maxConnectionsPerIp) {
      refuse('conn_limit_ip', { remote: ip });
      return false;
    }
    perIp.set(ip, n);
    sockets.add(socket);
    metrics.connections = sockets.size;
    socket.once('close', () => {
      sockets.delete(socket);
      metrics.connections = sockets.size;
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left <= 0) perIp.delete(ip);
      else perIp.set(ip, left);
    });
    return true;
  };
  /** An admitted connection (plain, or TLS after its handshake) goes to aedes behind the packet-size guard. */
  const serve = (socket: Socket): void => {
    const ip = socket.remoteAddress ?? '?';
    socket.setNoDelay(true);
    const guarded = new GuardedSocket(socket, m, (reason: GuardRefusal) => refuse(reason, { remote: ip }));
    guarded.on('error', () => undefined);
    aedes.handle(guarded);
  };
  const servers: Server[] = [];
  if (m.plainListener) servers.push(createServer((socket) => (admit(socket) ? serve(socket) : socket.destroy())));
  const tlsServer = m.tls ? createTlsServer({
    cert: readFileSync(m.tls.certFile), key: readFileSync(m.tls.keyFile), ca: m.tls.caFile ? readFileSync(m.tls.caFile) : undefined,
    minVersion: 'TLSv1.2', requestCert: m.tls.clientCert !== 'none', rejectUnauthorized: m.tls.clientCert === 'required',
    handshakeTimeout: m.connectTimeoutMs,
  }, serve) : undefined;
  // TLS: the per-IP limit applies to the raw TCP connection, so a handshake flood from one address is cut before any crypto work.
  const refusedRaw = new WeakSet<Socket>();
  tlsServer?.on('connection', (raw: Socket) => {
    if (admit(raw)) return;
    refusedRaw.add(raw);
    raw.destroy();
  });
  tlsServer?.on('tlsClientError', (err, socket) => {
    // A connection we refused at admission ends the handshake too: already counted as conn_limit_ip.
    if (refusedRaw.has((socket as unknown as { _parent?: Socket })._parent as Socket)) return;
    refuse('tls_handshake_failed', { remote: socket.remoteAddress, err: errorMessage(err).slice(0, 200) });
  });
  if (tlsServer) servers.push(tlsServer);
  for (const s of servers) {
    s.maxConnections = m.maxConnections;
    // Node closes a connection over maxConnections before we see it: count and log it like every refusal.
    s.on('drop', (d?: { remoteAddress?: string }) => refuse('conn_limit_total', { remote: d?.remoteAddress ?? '?' }));
  }
  let port = 0;
  let tlsPort = 0;
  try {
    await ctx.beforeListen?.(aedes);
    if (m.plainListener) port = await listen(servers[0]!, m.port, m.host);
    if (tlsServer && m.tls) tlsPort = await listen(tlsServer, m.tls.port, m.host);
  } catch (err) {
    for (const s of servers) s.close();
    await new Promise<void>((r) => aedes.close(() => r()));
    throw err;
  }
  log.info({ host: m.host, port, tlsPort, clientCert: m.tls?.clientCert, maxPacketBytes: m.maxPacketBytes }, 'mqtt broker listening');

  return {
    aedes,
    port,
    tlsPort,
    metrics,
    online: () => clients().flatMap((c) => { const who = identities.get(c); return who?.role === 'gateway' ? [who.gateway] : []; }),
    listening: () => !aedes.closed && servers.every((s) => s.listening),
    async close() {
      const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await new Promise<void>((r) => aedes.close(() => r()));
      for (const s of sockets) s.destroy(); // connections that never sent CONNECT
      await closed;
      log.info('mqtt broker closed');
    },
  };
}

function watchClients(aedes: Aedes, identities: WeakMap<Client, Identity>, metrics: BrokerMetrics, log: Logger, presence: (who: Identity, online: boolean) => void, refuse: (reason: string, fields: Record<string, unknown>) => void): void {
  aedes.on('client', (client) => {
    metrics.connects++;
    const who = identities.get(client);
    if (!who) return;
    if (who.role === 'reader') return void log.info({ reader: who.gateway, tenant: who.tenant, remote: remoteOf(client) }, 'alarm reader connected');
    log.info({ gateway: who.gateway, tenant: who.tenant, remote: remoteOf(client) }, 'gateway connected');
    presence(who, true);
  });
  aedes.on('clientDisconnect', (client) => {
    metrics.disconnects++;
    const who = identities.get(client);
    if (!who) return;
    if (who.role === 'reader') return void log.info({ reader: who.gateway }, 'alarm reader disconnected');
    log.info({ gateway: who.gateway }, 'gateway disconnected');
    presence(who, false);
  });
  aedes.on('clientError', (client, err) => {
    metrics.clientErrors++;
    const reason = clientErrorReason(err);
    if (reason) refuse(reason, { gateway: client.id, remote: remoteOf(client) ?? '?', err: errorMessage(err).slice(0, 200) });
    else log.debug({ gateway: client.id.slice(0, 128), err: errorMessage(err).slice(0, 200) }, 'client error');
  });
  aedes.on('connectionError', (client, err) => {
    metrics.clientErrors++;
    const reason = clientErrorReason(err);
    if (reason) refuse(reason, { remote: remoteOf(client) ?? '?', err: errorMessage(err).slice(0, 200) });
    else log.debug({ err: errorMessage(err) }, 'connection error before CONNECT');
  });
  aedes.on('keepaliveTimeout', (client) => {
    metrics.keepaliveTimeouts++;
    log.warn({ gateway: client.id }, 'keepalive timeout');
  });
}

/** Log fields as an unauthenticated peer may fill them: strings cut to 128 characters. */
function boundedFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = typeof v === 'string' && v.length > 128 ? `${v.slice(0, 128)}... (${v.length} chars)` : v;
  return out;
}

/**
 * aedes drops the incoming QoS 2 state of a client id when ANY connection with that id closes with
 * a clean session, authenticated or not: a CONNECT with a victim's id and a wrong password would
 * wipe the victim's unreleased QoS 2 packets, and its DUP retransmission would be delivered twice.
 * Only an authenticated connection may clean its id's state.
 */
function guardIncomingState(aedes: Aedes): void {
  const p = (aedes as unknown as { persistence: unknown }).persistence as { cleanIncoming?: (client: Client) => Promise<void> };
  const clean = p.cleanIncoming?.bind(p);
  if (!clean) return;
  p.cleanIncoming = (client) => ((client as unknown as { _authorized?: boolean })._authorized ? clean(client) : Promise.resolve());
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
