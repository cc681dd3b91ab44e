import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../core/logger.js';
import { verifyPassword } from './credentials.js';
import type { Registry } from './registry.js';
import { isLoopback } from './config.js';
import { LoginThrottle } from './login-throttle.js';

/** Paths with cloud-wide (all tenants') figures: the operator reads them from the cloud host; a tenant token gets 403. */
export function isOperatorOnly(url: string): boolean {
  return url === '/api/v1/metrics' || url.startsWith('/api/v1/metrics?');
}

/** The tenant an API request may see and the token it came with; undefined when the API runs without auth (http.auth: none). */
export type RequestScope = { tenant: string; tokenId: string } | undefined;

const BEARER = /^Bearer ([A-Za-z0-9_.-]{1,64})\.([A-Za-z0-9_-]{16,128})$/;

/**
 * Bearer-token auth for /api/v1 (http.auth: token): `Authorization: Bearer <id>.<secret>` from
 * `jinyun admin token create`; the secret is checked against the registry's scrypt hash, and a
 * verified header is cached (bounded) so only the first request pays for scrypt. A revoked token
 * fails at the next registry reload (the cache is keyed by registry revision).
 */
export interface TokenAuthLimits {
  failedLoginLimit: number;
  failedLoginWindowMs: number;
  loginLockoutMs: number;
}

export function installTokenAuth(app: FastifyInstance, registry: Registry, limits: TokenAuthLimits, log: Logger, now: () => number = Date.now): (req: FastifyRequest) => RequestScope {
  const scopes = new WeakMap<FastifyRequest, { tenant: string; tokenId: string }>();
  // Failed logins throttled per client IP and per token id (a guess spread over many addresses).
  const throttle = new LoginThrottle({ limit: limits.failedLoginLimit, windowMs: limits.failedLoginWindowMs, lockoutMs: limits.loginLockoutMs, now });
  let cache = new Map<string, { tenant: string; tokenId: string }>();
  let cacheRevision = registry.revision;
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/v1/') || req.url.startsWith('/api/v1/healthz') || req.url.startsWith('/api/v1/openapi.json')) return;
    // Cloud-wide counters are the operator's: readable without a token from the cloud host itself.
    if (isOperatorOnly(req.url) && isLoopback(req.socket.remoteAddress)) return;
    const header = req.headers.authorization ?? '';
    if (cacheRevision !== registry.revision) {
      cache = new Map();
      cacheRevision = registry.revision;
    }
    let scope = cache.get(header);
    if (scope === undefined) {
      const m = BEARER.exec(header);
      const ipKey = `ip:${req.socket.remoteAddress ?? '?'}`;
      const idKey = m ? `id:${m[1]!}` : null;
      if (throttle.locked(ipKey) || (idKey !== null && throttle.locked(idKey))) {
        log.warn({ ip: req.socket.remoteAddress, tokenId: m?.[1] }, 'API login throttled');
        return reply.code(429).header('retry-after', String(Math.ceil(limits.loginLockoutMs / 1000)))
          .send({ error: 'too_many_attempts', message: 'too many failed API logins from this address or for this token; try again later' });
      }
      const token = m ? registry.activeTokens().find((t) => t.id === m[1]) : undefined;
      if (!m || !token || !(await verifyPassword(m[2]!, token.tokenHash))) {
        // A request without any Authorization header is no guess: it is not counted.
        if (header !== '') {
          throttle.fail(ipKey);
          if (idKey !== null) throttle.fail(idKey);
          log.warn({ ip: req.socket.remoteAddress, tokenId: m?.[1] }, 'API login failed');
        }
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'missing or invalid API token (jinyun admin token create)' });
      }
      throttle.succeed(idKey!);
      scope = { tenant: token.tenant, tokenId: token.id };
      if (cache.size >= 1000) cache.clear();
      cache.set(header, scope);
    }
    scopes.set(req, scope);
  });
  return (req) => scopes.get(req);
}
