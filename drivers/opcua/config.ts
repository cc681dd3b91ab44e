import { z } from 'zod';
import { ID_PATTERN } from '../../core/topics.js';

const idLike = (what: string) =>
  z.string().regex(ID_PATTERN, `${what} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`);

export const SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
/** Policies we offer; Basic128Rsa15 and Basic256 are deprecated since OPC UA 1.04 (SHA-1) and refused. */
export const SECURITY_POLICIES = ['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;
export type SecurityModeName = (typeof SECURITY_MODES)[number];
export type SecurityPolicyName = (typeof SECURITY_POLICIES)[number];

const NODE_ID = /^(ns=\d+;|nsu=[^;]+;)?[isgb]=.+$/;

const deadbandSchema = z
  .strictObject({
    type: z.enum(['absolute', 'percent']).describe('absolute: report a change larger than value (in engineering units); percent: larger than value % of the EURange the server declares (the node needs an EURange property).'),
    value: z.number().min(0).describe('The deadband: engineering units (absolute) or 0-100 percent of EURange (percent).'),
  })
  .superRefine((d, ctx) => {
    if (d.type === 'percent' && d.value > 100) ctx.addIssue({ code: 'custom', path: ['value'], message: 'a percent deadband must be 0-100' });
  })
  .describe('Data-change filter: the server reports a value only when it moved more than this since the last report.');

export const opcuaTagSchema = z
  .strictObject({
    name: idLike('tag name').describe('Tag name, unique within the device; the reading key is "{device}/{tag}".'),
    nodeId: z.string().regex(NODE_ID, 'nodeId must look like ns=2;s=Fan1.Speed, ns=3;i=1001 or nsu=urn:...;s=Name').describe('NodeId of the Variable, e.g. "ns=2;s=Mine.Fan1.Speed" or "ns=3;i=1001" (nsu= with a namespace URI is also accepted).'),
    samplingIntervalMs: z.number().min(-1).max(3_600_000).optional().describe('How often the server samples this value (subscribe mode); -1 = the publishing interval, 0 = the fastest the server can. Device samplingIntervalMs when omitted.'),
    queueSize: z.number().int().min(1).max(10_000).optional().describe('Values the server keeps for this tag between two publishes (subscribe mode); > 1 keeps every sample when sampling is faster than publishing. Device queueSize when omitted.'),
    deadband: deadbandSchema.optional(),
    dataType: z.string().max(64).default('').describe('OPC UA data type as browsed ("Double", "Boolean", "Int64", "String[]" ...); informational, for the catalog. Values are converted from what the server sends.'),
    unit: z.string().max(32).default('').describe('Engineering unit shown in the catalog, e.g. "m3/s", "%CH4", "kW" (browse copies it from EngineeringUnits).'),
    description: z.string().max(256).default('').describe('Free text for the catalog and the dashboard.'),
  })
  .describe('One OPC UA Variable read or subscribed.');

const userSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('anonymous').describe('No user identity (the server must allow Anonymous).') }),
    z.strictObject({
      type: z.literal('username'),
      username: z.string().min(1).max(256).describe('User name.'),
      password: z.string().min(1).describe('Password; use ${ENV_VAR} to keep it out of the file. Sent encrypted with the server certificate.'),
    }),
    z.strictObject({
      type: z.literal('certificate'),
      certFile: z.string().min(1).describe('PEM (or DER) X.509 user certificate, registered with the server as a user.'),
      keyFile: z.string().min(1).describe('PEM private key of the user certificate (mode 0600).'),
    }),
  ])
  .describe('User identity of the session: anonymous, username/password, or an X.509 user certificate.');

export const opcuaDeviceSchema = z
  .strictObject({
    type: z.literal('opcua').describe('Driver: OPC UA client (node-opcua).'),
    name: idLike('device name').describe('Device name, unique within the gateway.'),
    endpointUrl: z.string().regex(/^opc\.tcp:\/\/[^\s/]+(\/.*)?$/, 'endpointUrl must look like opc.tcp://host:4840').describe('Server endpoint, e.g. opc.tcp://10.0.0.5:4840.'),
    securityMode: z.enum(SECURITY_MODES).default('SignAndEncrypt').describe('Message security: SignAndEncrypt for production; Sign protects integrity only; None only while commissioning.'),
    securityPolicy: z.enum(SECURITY_POLICIES).default('Basic256Sha256').describe('Security policy; Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss (must be None when securityMode is None).'),
    user: userSchema.default({ type: 'anonymous' }),
    pkiDir: z.string().min(1).default('./pki').describe('Certificate store: own/ (our application certificate, created on first start), trusted/, rejected/ (servers we refused; move them with `jinyun certs trust`), issuers/.'),
    applicationName: z.string().min(1).max(64).default('Jinyun').describe('Application name in our certificate and sessions; the application URI is urn:{hostname}:{applicationName}.'),
    mode: z.enum(['subscribe', 'poll']).default('subscribe').describe('subscribe: monitored items on one subscription (report by exception); poll: Read requests every pollIntervalMs, for servers that handle subscriptions badly.'),
    pollIntervalMs: z.number().int().min(10).max(3_600_000).default(1000).describe('Read period in poll mode.'),
    publishingIntervalMs: z.number().int().min(10).max(600_000).default(1000).describe('How often the server sends the queued changes (subscribe mode).'),
    samplingIntervalMs: z.number().min(-1).max(3_600_000).default(-1).describe('Default sampling interval of the tags; -1 = the publishing interval.'),
    queueSize: z.number().int().min(1).max(10_000).default(10).describe('Default server queue per tag.'),
    keepAliveCount: z.number().int().min(1).max(1000).default(10).describe('Publishing intervals without data after which the server sends a keep-alive; the watchdog recovers after 3 keep-alive periods of silence.'),
    lifetimeCount: z.number().int().min(3).max(100_000).default(60).describe('Publishing intervals without a publish request before the server drops the subscription (at least 3 x keepAliveCount).'),
    maxItemsPerCall: z.number().int().min(1).max(100_000).default(1000).describe('Monitored items created per CreateMonitoredItems request.'),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('Longest wait for a response; also bounds a connect attempt.'),
    sessionTimeoutMs: z.number().int().min(1000).max(3_600_000).default(60_000).describe('Session timeout asked of the server.'),
    reconnectInitialMs: z.number().int().min(10).max(600_000).default(1000).describe('First wait before reconnecting; doubles with jitter up to reconnectMaxMs.'),
    reconnectMaxMs: z.number().int().min(10).max(3_600_000).default(10_000).describe('Longest wait between reconnect attempts (keep it well under 30 s so subscriptions come back quickly after a server restart).'),
    tags: z.array(opcuaTagSchema).min(1, 'a device needs at least one tag').describe('The Variables to read.'),
  })
  .superRefine((dev, ctx) => {
    if ((dev.securityMode === 'None') !== (dev.securityPolicy === 'None')) {
      ctx.addIssue({ code: 'custom', path: ['securityPolicy'], message: `securityMode ${dev.securityMode} needs ${dev.securityMode === 'None' ? 'securityPolicy None' : 'a securityPolicy other than None'}` });
    }
    if (dev.lifetimeCount < 3 * dev.keepAliveCount) {
      ctx.addIssue({ code: 'custom', path: ['lifetimeCount'], message: `lifetimeCount must be at least 3 x keepAliveCount (${3 * dev.keepAliveCount})` });
    }
    if (dev.reconnectMaxMs < dev.reconnectInitialMs) {
      ctx.addIssue({ code: 'custom', path: ['reconnectMaxMs'], message: `reconnectMaxMs must be at least reconnectInitialMs (${dev.reconnectInitialMs})` });
    }
    if (dev.user.type !== 'anonymous' && dev.securityMode === 'None' && dev.user.type === 'certificate') {
      ctx.addIssue({ code: 'custom', path: ['user'], message: 'an X.509 user identity needs securityMode Sign or SignAndEncrypt' });
    }
  })
  .describe('An OPC UA server (subscriptions or polled reads, with message security and a user identity).');

export type OpcuaTag = z.output<typeof opcuaTagSchema>;
export type OpcuaDevice = z.output<typeof opcuaDeviceSchema>;
export type OpcuaDeviceInput = z.input<typeof opcuaDeviceSchema>;

/** "opc.tcp://host:port (SignAndEncrypt/Basic256Sha256)": no credentials, safe for logs and the catalog. */
export function opcuaEndpoint(d: Pick<OpcuaDevice, 'endpointUrl' | 'securityMode' | 'securityPolicy'>): string {
  return `${d.endpointUrl} (${d.securityMode}/${d.securityPolicy})`;
}
