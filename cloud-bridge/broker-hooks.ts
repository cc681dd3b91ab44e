import { TLSSocket } from 'node:tls';
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import { checkConnectIdentity, checkForward, checkPublish, checkSubscribe, type Identity } from './acl.js';
import type { PasswordChecker } from './password-checker.js';
import type { Registry } from './registry.js';
import type { LoginGuard } from './login-throttle.js';

// aedes' AuthErrorCode is a const enum in a .d.ts; the MQTT 3.1.1 CONNACK codes are spelled out here.
const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_SERVER_UNAVAILABLE = 3;
const CONNACK_NOT_AUTHORIZED = 5;

export interface HookDeps {
  registry: Registry;
  /** Identity bound to each authenticated client; the ACL reads only this, never the topic or payload. */
  identities: WeakMap<Client, Identity>;
  /** Password checks: cached after a first success, bounded scrypt pool (password-checker.ts). */
  passwords: PasswordChecker;
  /** Longest client id, checked at every protocol level before the id is looked up, throttled or logged. */
  maxClientIdLength: number;
  throttle: LoginGuard;
  maxConnectionsPerTenant: number;
  /** Authenticated clients of a tenant connected now. */
  /** Authenticated connections of the tenant, not counting those with client id `exceptClientId` (a reconnect takes over its own old session). */
  tenantConnections(tenant: string, exceptClientId: string): number;
  /** Counts (and rate-limit logs) a refusal. */
  refuse(reason: string, fields: Record<string, unknown>): void;
  log: Logger;
}

export function remoteOf(client: Client): string | undefined {
  return (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress;
}

/** The CN of a client certificate the TLS listener verified against its CA, or null. */
export function certIdentityOf(client: Client): string | null {
  const socket = (client.conn as { socket?: unknown } | undefined)?.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return null;
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : null;
}

type Hooks = Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>>;

/**
 * aedes authentication and authorization. Identity: client id = gateway id, and username = client
 * id for a password login, or the verified client certificate's CN = client id (mutual TLS). The
 * password is checked against the registry's scrypt hash (constant-time; an unknown gateway costs
 * the same time); failed logins are throttled per (gateway id, source) and per (tenant, source) with growing delays (login-throttle.ts); a tenant over its
 * connection limit is refused. Then per-gateway topic ACLs from the bound identity.
 */
export function brokerHooks(d: HookDeps): Hooks {
  const topic = (t: string): string => t.slice(0, 200);
  return {
    authenticate(client, username, password, done) {
      const remote = remoteOf(client) ?? '?';
      const fail = (reason: string, code: number): void => {
        d.refuse(reason, { gateway: client.id.slice(0, 128), remote });
        done(Object.assign(new Error(reason), { returnCode: code }) as unknown as AuthenticateError, false);
      };
      const accept = (tenant: string, role: Identity['role'] = 'gateway'): void => {
        if (d.tenantConnections(tenant, client.id) >= d.maxConnectionsPerTenant) return fail('conn_limit_tenant', CONNACK_SERVER_UNAVAILABLE);
        d.identities.set(client, { gateway: client.id, tenant, role });
        done(null, true);
      };
      // Before the id is used anywhere: its length (aedes checks it for MQTT 3.1 only) and the session kind.
      if (client.id.length > d.maxClientIdLength) return fail('auth_bad_client_id', CONNACK_IDENTIFIER_REJECTED);
      // Gateways and alarm readers use clean sessions; a persistent one would make the broker keep every unacknowledged message for it.
      if (!client.clean) return fail('auth_persistent_session', CONNACK_IDENTIFIER_REJECTED);
      const certId = certIdentityOf(client);
      if (certId !== null) {
        // Mutual TLS: the certificate names the gateway; the client id must match it.
        const denial = checkConnectIdentity(client.id, username ?? client.id);
        if (denial || certId !== client.id || (username !== undefined && username !== certId)) return fail('auth_cert_mismatch', CONNACK_NOT_AUTHORIZED);
        const gw = d.registry.gateway(certId);
        if (!gw) return fail(d.registry.isRevoked(certId) ? 'auth_revoked' : 'auth_unknown_gateway', CONNACK_NOT_AUTHORIZED);
        return accept(gw.tenant);
      }
      const denial = checkConnectIdentity(client.id, username);
      if (denial) return fail(`auth_${denial}`, CONNACK_NOT_AUTHORIZED);
      // Throttled per (gateway id, source) and per (tenant, source): a guesser slows down only itself.
      const gw = d.registry.gateway(client.id);
      // Not a gateway: maybe a tenant's API token logging in to read its alarms (a gateway id wins; platform tokens are API-only).
      const reader = gw ? undefined : d.registry.activeTokens().find((t) => t.id === client.id && t.scope === 'tenant');
      const tenant = gw?.tenant ?? reader?.tenant ?? '';
      if (d.throttle.retryAfterMs(client.id, tenant, remote) > 0) return fail('auth_throttled', CONNACK_NOT_AUTHORIZED);
      const plain = password ? password.toString('utf8') : '';
      // Cheap for an identity verified before and for unknown ids; scrypt in a bounded pool otherwise (password-checker.ts).
      const priority = d.throttle.clean(client.id, tenant, remote) ? 'high' : 'low';
      d.passwords.check(client.id, plain, gw?.passwordHash ?? reader?.tokenHash, priority)
        .then((result) => {
          if (result === 'busy') return fail('auth_busy', CONNACK_SERVER_UNAVAILABLE);
          if (result === 'wrong') {
            d.throttle.fail(client.id, tenant, remote);
            const reason = gw || reader ? 'auth_bad_password' : d.registry.isRevoked(client.id) ? 'auth_revoked' : 'auth_unknown_gateway';
            return fail(reason, CONNACK_NOT_AUTHORIZED);
          }
          d.throttle.succeed(client.id, remote);
          if (gw) accept(gw.tenant);
          else accept(reader!.tenant, 'reader');
        })
        .catch((err: unknown) => {
          d.log.error({ err: errorMessage(err), gateway: client.id }, 'password check failed');
          fail('auth_error', CONNACK_SERVER_UNAVAILABLE);
        });
    },

    authorizePublish(client, packet, done) {
      if (!client) return done(null); // the broker's own messages (acks from the ingest)
      const who = d.identities.get(client);
      const denial = who ? checkPublish(who, packet.topic, packet.retain) : 'publish_unauthenticated';
      if (!denial) return done(null);
      d.refuse(denial, { gateway: who?.gateway ?? client.id, topic: topic(packet.topic) });
      // aedes closes the connection on an error (MQTT 3.1.1 has no negative PUBACK).
      done(new Error(`publish to ${topic(packet.topic)} refused: ${denial}`));
    },

    authorizeSubscribe(client, sub, done) {
      const who = d.identities.get(client);
      if (who && checkSubscribe(who, sub.topic)) return done(null, sub);
      d.refuse('subscribe_denied', { gateway: who?.gateway ?? client.id, topic: topic(sub.topic) });
      done(null, null); // SUBACK 0x80 for this filter; the connection stays
    },

    authorizeForward(client, packet) {
      const who = d.identities.get(client);
      if (who && checkForward(who, packet.topic)) return packet;
      d.refuse('forward_denied', { gateway: who?.gateway ?? client.id, topic: topic(packet.topic) });
      return null;
    },
  };
}
