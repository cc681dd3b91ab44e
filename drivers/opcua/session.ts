import { readFileSync } from 'node:fs';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import {
  MessageSecurityMode, OPCUAClient, SecurityPolicy, UserTokenType, setErrorLogger, setWarningLogger,
  type ClientSession, type UserIdentityInfo,
} from 'node-opcua-client';
import { TimeoutError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { OpcuaDevice } from './config.js';

/** An open client + session. close() never throws. */
export interface OpcuaSession {
  client: OPCUAClient;
  session: ClientSession;
  close(): Promise<void>;
}

// node-opcua prints its warnings with console (on stdout), some while it loads (the PKCS#1 v1.5 probe,
// NODE-OPCUA-W27, irrelevant to the policies we allow): keep them off stdout (browse writes YAML there)
// until routeNodeOpcuaLogs sends them to pino.
setWarningLogger(() => undefined);
setErrorLogger(() => undefined);

let routed = false;
/** node-opcua prints warnings with console; send them to pino at debug once per process (no console in library code). */
export function routeNodeOpcuaLogs(logger: Logger): void {
  if (routed) return;
  routed = true;
  const log = logger.child({ component: 'node-opcua' });
  const print = (...args: unknown[]): void => log.debug(args.map((a) => (typeof a === 'string' ? a : errorMessage(a))).join(' '));
  setWarningLogger(print);
  setErrorLogger(print);
}

/** A certificate store per pkiDir, shared by the drivers (and their reconnects) of one process. */
const stores = new Map<string, { cm: OPCUACertificateManager; ready: Promise<void>; users: number }>();

export async function acquireCertificateManager(pkiDir: string): Promise<OPCUACertificateManager> {
  let s = stores.get(pkiDir);
  if (!s) {
    const cm = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: false, name: 'pki' });
    s = { cm, ready: cm.initialize(), users: 0 };
    stores.set(pkiDir, s);
  }
  s.users++;
  await s.ready;
  return s.cm;
}

export async function releaseCertificateManager(pkiDir: string): Promise<void> {
  const s = stores.get(pkiDir);
  if (!s || --s.users > 0) return;
  stores.delete(pkiDir);
  await s.cm.dispose().catch(() => undefined);
}

export function userIdentity(user: OpcuaDevice['user']): UserIdentityInfo {
  switch (user.type) {
    case 'anonymous':
      return { type: UserTokenType.Anonymous };
    case 'username':
      return { type: UserTokenType.UserName, userName: user.username, password: user.password };
    case 'certificate': {
      const pem = readFileSync(user.certFile, 'utf8');
      const der = pem.includes('-----BEGIN') ? Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64') : readFileSync(user.certFile);
      return { type: UserTokenType.Certificate, certificateData: der, privateKey: readFileSync(user.keyFile, 'utf8') } as UserIdentityInfo;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => { t = setTimeout(() => reject(new TimeoutError(`${what} took longer than ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

export interface OpenOptions {
  device: OpcuaDevice;
  cm: OPCUACertificateManager;
  /** Called once when the connection breaks after it was established (not on our own close). */
  onLost: (reason: string) => void;
}

/**
 * One connect attempt: secure channel, session, user identity. node-opcua's own retry loop is off
 * (maxRetry 0): the driver owns reconnecting, with backoff, and rebuilds everything after a loss.
 */
export async function openSession({ device, cm, onLost }: OpenOptions): Promise<OpcuaSession> {
  const client = OPCUAClient.create({
    applicationName: device.applicationName,
    clientName: device.name,
    securityMode: MessageSecurityMode[device.securityMode],
    securityPolicy: SecurityPolicy[device.securityPolicy],
    clientCertificateManager: cm,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    requestedSessionTimeout: device.sessionTimeoutMs,
    defaultTransactionTimeout: device.requestTimeoutMs,
    transportTimeout: device.requestTimeoutMs,
    keepSessionAlive: device.mode === 'poll',
    keepAliveInterval: Math.max(1000, Math.min(device.sessionTimeoutMs / 3, 10_000)),
  });
  let closing = false;
  let lostOnce = false;
  const lost = (reason: string): void => {
    if (closing || lostOnce) return;
    lostOnce = true;
    onLost(reason);
  };
  client.on('connection_lost', () => lost('connection lost'));
  client.on('close', (err?: Error | null) => lost(err ? `connection closed: ${err.message}` : 'connection closed'));
  const close = async (): Promise<void> => {
    closing = true;
    await withTimeout(client.disconnect(), 5000, 'disconnect').catch(() => undefined);
    client.removeAllListeners();
  };
  try {
    await withTimeout(client.connect(device.endpointUrl), device.requestTimeoutMs, `connect to ${device.endpointUrl}`);
    const session = await withTimeout(client.createSession(userIdentity(device.user)), device.requestTimeoutMs, 'create session');
    session.on('session_closed', () => lost('session closed'));
    session.on('keepalive_failure', () => lost('session keep-alive failed'));
    return { client, session, close };
  } catch (err) {
    await close();
    throw err;
  }
}
