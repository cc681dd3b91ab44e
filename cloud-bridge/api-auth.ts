import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../core/logger.js';
import { PasswordChecker } from './password-checker.js';
import type { Registry } from './registry.js';
import { LoginGuard } from './login-throttle.js';
import type { TokenScope } from './store/reading-store.js';

/**
 * Who may call a route, declared on the route itself (`config: { access }`):
 * - 'public': no credential (health, the OpenAPI document, the dashboard's static files);
 * - 'tenant': a tenant token, which sees its own tenant only (the default: a route that declares
 *   nothing is closed, not open);
 * - 'platform': a platform token (`jinyun admin token create --platform`): cloud-wide figures.
 */
export type Access = 'public' | 'tenant' | 'platform';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

/** The access a matched route declares; 'tenant' when it declares none. */
export function accessOf(req: FastifyRequest): Access {
  return req.routeOptions.config.access ?? 'tenant';
}

/** The tenant an API request may see and the token it came with; undefined when the API runs without auth (http.auth: none). */
export type RequestScope = { tenant: string; tokenId: string } | undefined;

interface Verified { scope: TokenScope; tenant: string; tokenId: string }

const BEARER = /^Bearer ([A-Za-z0-9_.-]{1,64})\.([A-Za-z0-9_-]{16,128})$/;

export interface TokenAuthLimits {
  failedLoginLimit: number;
  failedLoginWindowMs: number;
  loginDelayMs: number;
  loginLockoutMs: number;
}

const unauthorized = (reply: FastifyReply) => reply.code(401).header('www-authenticate', 'Bearer')
  .send({ error: 'unauthorized', message: 'missing or invalid API token (jinyun admin token create)' });

const forbidden = (reply: FastifyReply, message: string) => reply.code(403).send({ error: 'forbidden', message });

/**
 * Authentication of every HTTP route, decided on the route fastify MATCHED (after it decoded the
 * path), never on the raw URL: `/%61pi/v1/gateways` matches /api/v1/gateways and needs its token.
 * A request that matches no route gets the 404 handler, which reveals nothing. With http.auth: none
 * every route is open (a loopback-only API; see config.ts).
 *
 * Tokens: `Authorization: Bearer <id>.<secret>` from `jinyun admin token create`; the secret is
 * checked against the registry's scrypt hash, and a verified header is cached (bounded) so only the
 * first request pays for scrypt. A revoked token fails at the next registry reload (the cache is
 * keyed by registry revision). Failed checks are throttled per (token id, source address) and per
 * (tenant, source address) with growing delays (login-throttle.ts), never per token id alone.
 */
export function installAuth(app: FastifyInstance, mode: 'none' | 'token', registry: Registry | undefined, limits: TokenAuthLimits, log: Logger,
  now: () => number = Date.now, passwords: PasswordChecker = new PasswordChecker({ hashConcurrency: 2, maxQueued: 16 })): (req: FastifyRequest) => RequestScope {
  const scopes = new WeakMap<FastifyRequest, { tenant: string; tokenId: string }>();
  const verify = registry ? tokenVerifier(registry, limits, log, now, passwords) : null;
  app.addHook('onRequest', async (req, reply) => {
    if (req.is404) return; // nothing matched: the not-found handler answers
    const access = accessOf(req);
    if (access === 'public' || mode === 'none') return;
    if (!verify) return forbidden(reply, 'token auth without a registry');
    const v = await verify(req, reply);
    if (v === null) return reply; // answered (401 or 429)
    if (access === 'platform' && v.scope !== 'platform') return forbidden(reply, 'cloud-wide figures (every tenant) need a platform token (jinyun admin token create --platform), not a tenant token');
    if (access === 'tenant' && v.scope !== 'tenant') return forbidden(reply, "a platform token reads the cloud-wide figures only; a tenant's data needs a token of that tenant");
    scopes.set(req, { tenant: v.tenant, tokenId: v.tokenId });
    return undefined;
  });
  return (req) => scopes.get(req);
}

/** Checks the bearer token of a request; null when it answered the request itself (401, 429). */
function tokenVerifier(registry: Registry, limits: TokenAuthLimits, log: Logger, now: () => number, passwords: PasswordChecker) {
  const guard = new LoginGuard({ limit: limits.failedLoginLimit, windowMs: limits.failedLoginWindowMs, firstDelayMs: limits.loginDelayMs, maxDelayMs: limits.loginLockoutMs, now });
  let cache = new Map<string, Verified>();
  let cacheRevision = registry.revision;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<Verified | null> => {
    const header = req.headers.authorization ?? '';
    if (cacheRevision !== registry.revision) {
      cache = new Map();
      cacheRevision = registry.revision;
    }
    const hit = cache.get(header);
    if (hit) return hit;
    // A request without any Authorization header is no guess: it is not counted.
    if (header === '') {
      unauthorized(reply);
      return null;
    }
    const m = BEARER.exec(header);
    const id = m?.[1] ?? '?';
    const source = req.socket.remoteAddress ?? '?';
    const token = m ? registry.activeTokens().find((t) => t.id === id) : undefined;
    const tenant = token?.tenant ?? '';
    const wait = guard.retryAfterMs(id, tenant, source);
    if (wait > 0) {
      log.warn({ ip: source, tokenId: id }, 'API login throttled');
      reply.code(429).header('retry-after', String(Math.ceil(wait / 1000)))
        .send({ error: 'too_many_attempts', message: 'too many failed API logins for this token from this address; try again later' });
      return null;
    }
    const result = m ? await passwords.check(`api\u0000${id}`, m[2]!, token?.tokenHash, guard.clean(id, tenant, source) ? 'high' : 'low') : 'wrong';
    if (result === 'busy') {
      reply.code(503).header('retry-after', '1').send({ error: 'busy', message: 'too many token checks at once; retry in a second' });
      return null;
    }
    if (result !== 'ok' || !token) {
      guard.fail(id, tenant, source);
      log.warn({ ip: source, tokenId: id }, 'API login failed');
      unauthorized(reply);
      return null;
    }
    guard.succeed(id, source);
    const v: Verified = { scope: token.scope, tenant: token.tenant, tokenId: token.id };
    if (cache.size >= 1000) cache.clear();
    cache.set(header, v);
    return v;
  };
}
