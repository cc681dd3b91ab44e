import { z } from 'zod';
import { loadConfigFile, type ConfigCheck } from '../core/config-file.js';
import type { ConfigIssue } from '../core/errors.js';
import { ID_PATTERN } from '../core/topics.js';
import { deviceSchema } from '../drivers/index.js';
import { checkReportNames, reportByExceptionSchema } from './report-config.js';

const id = (what: string) => z.string().regex(ID_PATTERN, `${what} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`);

const tlsSchema = z.strictObject({
  caFile: z.string().optional().describe('PEM file of the CA that signed the broker certificate (server verification).'),
  certFile: z.string().optional().describe('PEM client certificate, for brokers that require mutual TLS.'),
  keyFile: z.string().optional().describe('PEM private key of the client certificate (keep it mode 0600).'),
  rejectUnauthorized: z.boolean().default(true).describe('Verify the broker certificate. Only set false on a test bench: it allows a man in the middle.'),
}).describe('TLS settings; used when the url starts with mqtts://.');

export const edgeConfigSchema = z.strictObject({
  gateway: z.strictObject({
    id: id('gateway.id').describe('Gateway id, as registered in the cloud; also the MQTT client id and username.'),
    tenant: id('gateway.tenant').describe('Tenant (enterprise) the gateway belongs to.'),
  }).describe('Who this gateway is.'),
  spool: z.strictObject({
    path: z.string().min(1).describe('SQLite file of the store-and-forward outbox. Created mode 0600.'),
    synchronous: z.enum(['FULL', 'NORMAL']).default('FULL').describe('FULL: every commit survives power loss. NORMAL: faster; a power cut may roll back the last commits (never misread as duplicates thanks to the epoch).'),
    maxReadings: z.number().int().min(1000).default(10_000_000).describe('Most readings kept; beyond it the policy applies (every dropped reading is counted by device).'),
    maxBytes: z.number().int().min(64 * 1024).default(2 * 1024 ** 3).describe('Most encoded bytes kept (the file is somewhat larger); beyond it the policy applies.'),
    maxAgeMs: z.number().int().min(0).default(0).describe('Readings spooled longer ago than this are dropped and counted; 0 keeps them until the caps apply.'),
    policy: z.enum(['dropOldest', 'dropNewest', 'block']).default('dropOldest').describe('When a cap is reached or the disk is full: dropOldest keeps the newest data; dropNewest keeps the backlog; block stops polling until there is room.'),
    maxFileBytes: z.number().int().min(0).default(0).describe('Hard quota of the spool file (0 = none), kept below the filesystem size so a full disk never hits the rest of the system; reaching it counts as disk full.'),
  }).describe('The local outbox.'),
  uplink: z.strictObject({
    url: z.string().regex(/^mqtts?:\/\/[^\s]+$/, 'url must look like mqtt://host:port or mqtts://host:port').describe('Broker URL.'),
    username: z.string().optional().describe('MQTT username; the gateway id when omitted.'),
    password: z.string().min(1).optional().describe('MQTT password. Use ${ENV_VAR} to keep it out of the file.'),
    tls: tlsSchema.optional(),
    keepaliveS: z.number().int().min(5).max(600).default(30).describe('MQTT keepalive in seconds.'),
    connectTimeoutMs: z.number().int().min(500).max(120_000).default(10_000),
    reconnectInitialMs: z.number().int().min(50).max(60_000).default(500).describe('First reconnect delay; doubles with full jitter.'),
    reconnectMaxMs: z.number().int().min(100).max(600_000).default(4000).describe('Longest reconnect delay while the cloud is unreachable or busy: with full jitter, a gateway is back within about this long after the cloud returns.'),
    reconnectRefusedMaxMs: z.number().int().min(100).max(3_600_000).default(60_000).describe('Longest reconnect delay after the cloud refused the login (wrong password, revoked gateway): retrying faster helps nobody.'),
    ackTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('A batch with no application ACK after this is resent.'),
    maxInFlight: z.number().int().min(1).max(64).default(4).describe('Batches sent and awaiting their ACK at once.'),
    compression: z.enum(['none', 'deflate']).default('deflate').describe('Compression of batch bodies.'),
    order: z.enum(['liveFirst', 'oldestFirst']).default('liveFirst').describe('After an outage: liveFirst sends the newest readings in an extra batch slot ahead of the draining backlog (the backlog is flagged historical, the live readings are not); oldestFirst sends strictly in order.'),
    batch: z.strictObject({
      maxReadings: z.number().int().min(1).max(100_000).default(5000),
      maxBytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(256 * 1024).describe('Upper bound of a batch on the wire; keep it under the broker message size limit.'),
      maxDelayMs: z.number().int().min(10).max(600_000).default(1000).describe('A partial batch is sent once its oldest reading waited this long.'),
      historicalAfterMs: z.number().int().min(1000).default(60_000).describe('Readings older than this when sent are flagged historical (backlog).'),
    }).prefault({}),
  }).describe('The MQTT connection to the cloud.'),
  health: z.strictObject({
    intervalMs: z.number().int().min(1000).max(3_600_000).default(10_000).describe('How often a health message is published.'),
  }).prefault({}),
  http: z.strictObject({
    enabled: z.boolean().default(true).describe('Serve GET /healthz (JSON; 200 ok or degraded, 503 error) and GET /metrics (Prometheus).'),
    host: z.string().min(1).default('127.0.0.1').describe('Address to listen on. Keep it on localhost or the management VLAN: the OT zone allows no inbound listeners, and 0.0.0.0 exposes the endpoint on every network.'),
    port: z.number().int().min(0).max(65535).default(9464).describe('TCP port; 0 picks a free one. When the port is taken (two agents on one host), the next free port up is used (at most 16 tried), with a warning naming it; the port in use is printed as httpPort in the started line.'),
  }).prefault({}).describe('Local HTTP endpoint for health checks and Prometheus scraping.'),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).prefault({}),
  devices: z.array(deviceSchema).min(1, 'at least one device is needed').describe('The equipment this gateway reads.'),
  reportByException: reportByExceptionSchema,
});

export type EdgeConfig = z.output<typeof edgeConfigSchema>;

const uniqueNames: ConfigCheck<EdgeConfig> = (cfg) => {
  const issues: ConfigIssue[] = [];
  const devices = new Map<string, number>();
  cfg.devices.forEach((d, i) => {
    const first = devices.get(d.name);
    if (first !== undefined) issues.push({ path: ['devices', i, 'name'], message: `duplicate device name "${d.name}" (also devices[${first}])` });
    else devices.set(d.name, i);
    const tags = new Map<string, number>();
    d.tags.forEach((t, j) => {
      const firstTag = tags.get(t.name);
      if (firstTag !== undefined) issues.push({ path: ['devices', i, 'tags', j, 'name'], message: `duplicate tag name "${t.name}" in device "${d.name}" (also tags[${firstTag}])` });
      else tags.set(t.name, j);
    });
  });
  return issues;
};

export function loadEdgeConfig(file: string, env?: Record<string, string | undefined>): EdgeConfig {
  return loadConfigFile(file, edgeConfigSchema, [uniqueNames, (cfg) => checkReportNames(cfg.reportByException, cfg.devices)], env ? { env } : {});
}

export function tagKey(device: string, tag: string): string {
  return `${device}/${tag}`;
}
