import { z } from 'zod';
import { loadConfigFile, type ConfigCheck, type LoadOptions } from '../core/config-file.js';
import type { ConfigIssue } from '../core/errors.js';
import { ID_PATTERN } from '../core/topics.js';
import { parseScryptHash } from './credentials.js';
import { alarmsConfigSchema } from './alarms/rules.js';

const id = (what: string) => z.string().regex(ID_PATTERN, `${what} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`);
const port = z.number().int().min(0).max(65535);

const gatewaySchema = z.strictObject({
  id: id('id').describe('Gateway id: the MQTT client id and username the gateway must connect with, and a level of its topics.'),
  tenant: id('tenant').describe('Tenant (enterprise) the gateway belongs to. The broker takes the tenant from here, never from a topic or payload.'),
  passwordHash: z.string()
    .refine((s) => parseScryptHash(s) !== null, "passwordHash must be 'scrypt$N$r$p$saltB64$hashB64' as printed by `jinyun hash-password`")
    .describe('scrypt hash of the gateway password, from `jinyun hash-password`. The password itself is never stored.'),
}).describe('A gateway allowed to connect.');

export const cloudConfigSchema = z.strictObject({
  mqtt: z.strictObject({
    host: z.string().min(1).default('127.0.0.1').describe('Address the embedded MQTT broker listens on; 0.0.0.0 for every interface.'),
    port: port.default(1883).describe('MQTT port; 0 picks a free port (printed at start).'),
    maxPacketBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024).describe('Largest MQTT packet accepted; a bigger one closes the connection before it is buffered.'),
    connectTimeoutMs: z.number().int().min(100).max(120_000).default(10_000).describe('A connection that sends no CONNECT within this time is closed.'),
    keepaliveLimitS: z.number().int().min(1).max(65535).default(300).describe('Largest MQTT keepalive a client may ask for; 0 (no keepalive) is refused too.'),
    maxConnectBytes: z.number().int().min(256).max(1024 * 1024).default(8192).describe('Largest CONNECT packet (the only packet a peer without credentials may send); a bigger one closes the connection at its header, before it is buffered (connect_too_large).'),
    maxClientIdLength: z.number().int().min(1).max(65535).default(64).describe('Longest client id accepted, at every protocol level; a longer one is refused at CONNECT (auth_bad_client_id) before any lookup, throttle or log keeps it.'),
    drainTimeoutMs: z.number().int().min(0).max(600_000).default(30_000).describe('A client that does not read what the broker writes is disconnected after this time (0 = never).'),
    heartbeatIntervalMs: z.number().int().min(1000).max(3_600_000).default(60_000).describe('Interval of the broker $SYS heartbeat.'),
    maxConnections: z.number().int().min(1).max(1_000_000).default(10_000).describe('Most TCP connections at once per listener (plain and TLS each); more are closed at accept and counted (conn_limit_total).'),
    hashConcurrency: z.number().int().min(1).max(64).default(2).describe('scrypt password checks running at once. Each holds one of libuv\'s 4 threads, which the SQLite store shares: keep it below 4. Only a first login of an identity since start (or after a wrong guess against an uncached one) needs scrypt; a verified credential is checked by HMAC after that, and unknown ids cost no hashing.'),
    maxConcurrentAuth: z.number().int().min(1).max(1024).default(16).describe('scrypt password checks waiting for one of the hashConcurrency slots; a CONNECT beyond it is answered "server unavailable" (auth_busy) and retries with its backoff.'),
    maxConnectionsPerIp: z.number().int().min(1).max(1_000_000).default(100).describe('Most TCP connections from one IP address at once; more are closed at accept and counted (conn_limit_ip).'),
    maxConnectionsPerTenant: z.number().int().min(1).max(1_000_000).default(1000).describe('Most authenticated connections of one tenant at once (gateways and alarm readers); more are refused at CONNECT (conn_limit_tenant).'),
    failedLoginLimit: z.number().int().min(1).max(1000).default(5).describe('Wrong passwords for one gateway id from one source address before that pair is slowed down (its next attempt waits loginDelayMs, then twice as long after each further failure, up to loginLockoutMs; refused unchecked meanwhile: auth_throttled). A source address may fail 4x as often across the gateway ids of one tenant. The gateway id itself is never locked: its correct password from another address is always checked.'),
    failedLoginWindowMs: z.number().int().min(1000).max(86_400_000).default(60_000).describe('Failures of a pair (or a source) are forgotten this long after the last one.'),
    loginDelayMs: z.number().int().min(100).max(86_400_000).default(1000).describe('First delay of a pair (or source) at the failedLoginLimit-th failure; doubles with each further failure.'),
    loginLockoutMs: z.number().int().min(100).max(86_400_000).default(60_000).describe('Longest delay of a failing pair or source.'),
    plainListener: z.boolean().default(true).describe('Listen for plain MQTT on `port`; false leaves only the TLS listener.'),
    tls: z.strictObject({
      port: port.default(8883).describe('MQTT over TLS port; 0 picks a free port.'),
      certFile: z.string().min(1).describe('PEM server certificate (chain).'),
      keyFile: z.string().min(1).describe('PEM private key of the server certificate (mode 0600).'),
      caFile: z.string().min(1).optional().describe('PEM CA that signs gateway client certificates (needed for clientCert optional or required).'),
      clientCert: z.enum(['none', 'optional', 'required']).default('none').describe('Mutual TLS: with a verified client certificate its CN is the gateway id and no password is needed; required refuses connections without one.'),
    }).optional().describe('TLS listener (TLS 1.2 or newer).'),
  }).prefault({}).describe('The embedded MQTT broker (aedes).'),
  externalBroker: z.strictObject({
    url: z.string().regex(/^mqtts?:\/\/[^\s]+$/, 'url must be mqtt://host:port or mqtts://host:port').describe('The existing MQTT broker (cluster) to attach to; the embedded broker does not start.'),
    clientId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default('jinyun-ingest').describe('Client id of this ingest worker; each worker needs its own (the process id is appended).'),
    username: z.string().max(256).optional().describe('Username of the ingest on the broker; its ACL must allow subscribing to jinyun/v1/+/+/{data,catalog,status,health} and publishing jinyun/v1/+/+/ack.'),
    password: z.string().max(1024).optional().describe('Password of the ingest on the broker (use ${ENV} substitution; never commit it).'),
    caFile: z.string().min(1).optional().describe('PEM CA of the broker certificate for mqtts://.'),
    shareGroup: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('jinyun-ingest').describe('MQTT 5 shared-subscription group: workers in the same group split the data topics between them.'),
    topicRoot: z.string().regex(/^[A-Za-z0-9_.\/-]{1,128}$/).default('jinyun/v1').describe('Topic prefix (tests use a unique prefix on a shared broker).'),
  }).optional().describe('Attach to an existing MQTT broker instead of running the embedded one (scale-out: several ingest workers, one PostgreSQL). The broker enforces the ACLs.'),
  registry: z.strictObject({
    pollMs: z.number().int().min(0).max(600_000).default(1000).describe('How often the registry revision is checked; a revoked gateway is disconnected within this time (0 = load once).'),
  }).prefault({}).describe('Tenants, gateways and API tokens kept in the store (`jinyun admin`).'),
  http: z.strictObject({
    host: z.string().min(1).default('127.0.0.1').describe('Address the HTTP API listens on.'),
    port: port.default(8080).describe('HTTP port; 0 picks a free port (printed at start).'),
    defaultLimit: z.number().int().min(1).max(100_000).default(1000).describe('Rows returned by /series when no limit is given.'),
    maxLimit: z.number().int().min(1).max(100_000).default(100_000).describe('Largest limit a /series request may ask for.'),
    tls: z.strictObject({
      certFile: z.string().min(1).describe('PEM server certificate (chain) of the API and dashboard.'),
      keyFile: z.string().min(1).describe('PEM private key of that certificate (mode 0600).'),
    }).optional().describe('Serve the API and the dashboard over HTTPS (TLS 1.2 or newer) instead of plain HTTP.'),
    failedLoginLimit: z.number().int().min(1).max(1000).default(10).describe('Wrong secrets for one token id from one source address before that pair is slowed down (429 with retry-after, unchecked: loginDelayMs, doubling with each further failure up to loginLockoutMs). A source may fail 4x as often across the tokens of one tenant; a token already verified, or presented from another address, keeps working.'),
    failedLoginWindowMs: z.number().int().min(1000).max(86_400_000).default(60_000).describe('Failures of a pair (or a source) are forgotten this long after the last one.'),
    loginDelayMs: z.number().int().min(100).max(86_400_000).default(1000).describe('First delay of a pair (or source) at the failedLoginLimit-th failure; doubles with each further failure.'),
    loginLockoutMs: z.number().int().min(100).max(86_400_000).default(300_000).describe('Longest delay of a failing pair or source.'),
    auth: z.enum(['none', 'token']).optional().describe('token: every request needs `Authorization: Bearer <id>.<secret>` from `jinyun admin token create` and sees its tenant only. none: open API, for a loopback address only. Default: none when host is a loopback address, token otherwise.'),
  }).prefault({}).describe('The HTTP API under /api/v1.'),
  store: z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('sqlite').describe('SQLite file store (WAL, synchronous=FULL).'),
      path: z.string().min(1).describe('SQLite database file; created when missing.'),
    }),
    z.strictObject({
      type: z.literal('postgres').describe('PostgreSQL store (synchronous_commit=on, monthly partitions, BRIN on time).'),
      url: z.string().regex(/^postgres(ql)?:\/\//, 'url must be postgres://user@host:port/db').describe('Connection string; put the password in PGPASSWORD or use ${ENV} substitution.'),
      schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('jinyun').describe('Schema holding the tables (created when missing).'),
      poolSize: z.number().int().min(2).max(100).default(8).describe('Connections in the pool (writers and API readers).'),
    }),
  ]).describe('Where readings are stored. `type` selects the store.'),
  retention: z.strictObject({
    rawDays: z.number().int('rawDays must be a whole number of days').min(1, 'rawDays must be at least 1 (leave it out to keep every raw reading)').max(36_500, 'rawDays must be at most 36500 (100 years; leave it out to keep every raw reading)').optional()
      .describe('Raw readings with a source time older than this many days are deleted (rounded down to a whole minute); their one-minute rollups, the latest values and the batch (dedupe) keys stay, so trends over the pruned period keep their exact values. Absent: nothing is ever deleted (the default). Coal-mine safety data: AQ 6201 asks for at least 3 months (92 days) of raw data.'),
    intervalMs: z.number().int().min(1000).max(7 * 86_400_000).default(3_600_000).describe('How often the retention run prunes, in ms (the first run is right after start; only when rawDays is set).'),
  }).prefault({}).describe('Raw-data retention (opt-in). Without rawDays every reading is kept forever.'),
  health: z.strictObject({
    probeIntervalMs: z.number().int().min(200).max(600_000).default(2000).describe('How often the store gets a one-row durable write and a read, for /healthz and the store_unwritable operator alarm.'),
    writeFailWindowMs: z.number().int().min(1000).max(3_600_000).default(10_000).describe('A failed batch write makes the store unwritable for this long unless a write succeeds after it.'),
    overloadWindowMs: z.number().int().min(1000).max(3_600_000).default(5000).describe('A message dropped for a full ingest queue makes /healthz report ingest_saturated for this long.'),
  }).prefault({}).describe('The cloud bridge\'s own health (/api/v1/healthz): 503 while the store cannot be read or written, the broker does not accept gateways, or the ingest is saturated.'),
  gateways: z.array(gatewaySchema).default([]).describe('Gateways seeded into the registry at start (created or their hash updated; a revoked one stays revoked). More are added with `jinyun admin gateway add`.'),
  ingest: z.strictObject({
    maxQueuedPerGateway: z.number().int().min(1).max(10_000).default(64).describe('Messages of one gateway waiting to be processed; beyond it new ones are dropped unanswered (the edge resends) and counted.'),
    maxParallelWritesPerGateway: z.number().int().min(1).max(64).default(8).describe('Batches of one gateway written at once (SQLite store: committed together in one transaction, one fsync; the edge keeps uplink.maxInFlight batches in flight). Counters, alarms and Acks still follow arrival order. PostgreSQL: always 1.'),
    insertChunkRows: z.number().int().min(1).max(4000).default(500).describe('Readings per multi-row INSERT statement.'),
    maxQuarantinePerGateway: z.number().int().min(1).max(10_000_000).default(10_000).describe('Rejected messages kept (with their bytes) per gateway; the oldest are deleted beyond it.'),
    maxQuarantineBytesPerGateway: z.number().int().min(1024 * 1024).max(1024 ** 4).default(64 * 1024 * 1024).describe('Bytes of rejected messages kept per gateway; the oldest are deleted beyond it, and the gateway gets a quarantine_full alarm.'),
    maxQuarantineBytes: z.number().int().min(1024 * 1024).max(1024 ** 5).default(1024 * 1024 * 1024).describe('Bytes of rejected messages kept for all gateways together; the oldest of any gateway are deleted beyond it.'),
    maxHealthBytes: z.number().int().min(256).max(16 * 1024 * 1024).default(256 * 1024).describe('Largest health message kept for the API; bigger ones are counted and dropped.'),
    maxFutureSkewMs: z.number().int().min(0).max(86_400_000).default(300_000).describe('A batch with a reading timestamp later than receive time plus this is rejected as clock_skew and quarantined.'),
    minTimestampMs: z.number().int().min(0).default(946_684_800_000).describe('A batch with a reading timestamp before this (ms since epoch; default 2000-01-01) is rejected as clock_skew and quarantined.'),
    clockSkewAlarmMs: z.number().int().min(1000).max(86_400_000).default(60_000).describe('A batch whose send time differs from receive time by more than this is counted and logged (clock_skew_alarm).'),
    gapTimeoutMs: z.number().int().min(100).max(86_400_000).default(300_000).describe('A seq gap of a producer not filled within this time is reported as a GAP event.'),
  }).prefault({}).describe('Batch ingest: decode, dedupe, durable commit, then acknowledge.'),
  alarms: alarmsConfigSchema,
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level.'),
  }).prefault({}).describe('Logging (JSON lines on stderr).'),
});

export type CloudConfig = z.output<typeof cloudConfigSchema>;
export type GatewayEntry = CloudConfig['gateways'][number];

const uniqueGatewayIds: ConfigCheck<CloudConfig> = (cfg) => {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  cfg.gateways.forEach((g, i) => {
    const first = seen.get(g.id);
    if (first !== undefined) issues.push({ path: ['gateways', i, 'id'], message: `duplicate gateway id "${g.id}" (also gateways[${first}])` });
    else seen.set(g.id, i);
  });
  return issues;
};

const limits: ConfigCheck<CloudConfig> = (cfg) =>
  cfg.http.defaultLimit > cfg.http.maxLimit ? [{ path: ['http', 'defaultLimit'], message: `defaultLimit ${cfg.http.defaultLimit} exceeds maxLimit ${cfg.http.maxLimit}` }] : [];

export const cloudConfigChecks: ConfigCheck<CloudConfig>[] = [uniqueGatewayIds, limits];

/** Days of raw data AQ 6201 asks a coal mine to keep (3 months). */
export const AQ6201_MIN_RAW_DAYS = 92;

/** The start-up warning for a retention shorter than AQ 6201's 3 months, or null. */
export function retentionWarning(retention: { rawDays?: number | undefined }): string | null {
  const d = retention.rawDays;
  return d !== undefined && d < AQ6201_MIN_RAW_DAYS
    ? `retention.rawDays is ${d}: raw readings older than ${d} days are deleted, less than the 3 months (${AQ6201_MIN_RAW_DAYS} days) AQ 6201 asks for coal-mine safety data`
    : null;
}

/** Loads and validates a cloud bridge config; throws ConfigError naming file:line: path: message. */
export function loadCloudConfig(file: string, opts: LoadOptions = {}): CloudConfig {
  return loadConfigFile(file, cloudConfigSchema, cloudConfigChecks, opts);
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/i;

/** True for a loopback host name or peer address (also the IPv4-mapped form ::ffff:127.x.x.x a dual-stack socket reports). */
export function isLoopback(hostOrAddress: string | undefined): boolean {
  return hostOrAddress !== undefined && LOOPBACK.test(hostOrAddress.replace(/^::ffff:/i, ''));
}

/**
 * The API auth in force: as configured, else token auth unless the API listens on a loopback address
 * only (security by default: an API reachable from the network never starts open by omission).
 */
export function apiAuthOf(http: { host: string; auth?: 'none' | 'token' | undefined }): 'none' | 'token' {
  return http.auth ?? (LOOPBACK.test(http.host) ? 'none' : 'token');
}

/** True when the API is reachable beyond this machine without auth (configured so explicitly): warned at start. */
export function apiOpenToNetwork(http: { host: string; auth?: 'none' | 'token' | undefined }): boolean {
  return apiAuthOf(http) === 'none' && !LOOPBACK.test(http.host);
}
