import type { Sqlite } from '../../core/sqlite.js';
import { RegistryError } from '../../core/errors.js';
import { tokenScope, type RegistryChange, type RegistrySnapshot } from './reading-store.js';

/** The registry tables of the SQLite store (migration 2). Every change bumps registry_revision in the same transaction. */
export async function sqliteRegistryRevision(db: Sqlite): Promise<number> {
  return (await db.get<{ revision: number }>('SELECT revision FROM registry_revision'))?.revision ?? 0;
}

export async function sqliteLoadRegistry(db: Sqlite): Promise<RegistrySnapshot> {
  const revision = await sqliteRegistryRevision(db);
  const tenants = await db.all<{ id: string }>('SELECT id FROM tenants ORDER BY id');
  const gws = await db.all<{ id: string; tenant: string; password_hash: string | null; revoked_ms: number | null }>('SELECT id, tenant, password_hash, revoked_ms FROM gateways ORDER BY id');
  const tokens = await db.all<{ id: string; tenant: string; scope: string; token_hash: string; revoked_ms: number | null }>('SELECT id, tenant, scope, token_hash, revoked_ms FROM api_tokens ORDER BY id');
  return {
    revision,
    tenants: tenants.map((t) => t.id),
    gateways: gws.map((g) => ({ id: g.id, tenant: g.tenant, passwordHash: g.password_hash, revoked: g.revoked_ms !== null })),
    tokens: tokens.map((t) => ({ id: t.id, tenant: t.tenant, scope: tokenScope(t.scope), tokenHash: t.token_hash, revoked: t.revoked_ms !== null })),
  };
}

export function sqliteApplyRegistry(db: Sqlite, c: RegistryChange): Promise<void> {
  return db.transaction(async () => {
    switch (c.op) {
      case 'addTenant': {
        if (await db.get('SELECT 1 FROM tenants WHERE id = ?', [c.id])) throw new RegistryError('tenant_exists', `tenant "${c.id}" already exists`);
        await db.run('INSERT INTO tenants (id, created_ms) VALUES (?, ?)', [c.id, c.atMs]);
        break;
      }
      case 'addGateway': {
        if (!(await db.get('SELECT 1 FROM tenants WHERE id = ?', [c.tenant]))) throw new RegistryError('unknown_tenant', `tenant "${c.tenant}" does not exist (add it with: jinyun admin tenant add ${c.tenant})`);
        const old = await db.get<{ tenant: string; revoked_ms: number | null }>('SELECT tenant, revoked_ms FROM gateways WHERE id = ?', [c.id]);
        if (old) throw new RegistryError('gateway_exists', `gateway "${c.id}" already exists${old.revoked_ms !== null ? ' (revoked; gateway ids are never reused)' : ` in tenant "${old.tenant}"`}`);
        await db.run('INSERT INTO gateways (id, tenant, password_hash) VALUES (?, ?, ?)', [c.id, c.tenant, c.passwordHash]);
        break;
      }
      case 'revokeGateway': {
        const old = await db.get<{ revoked_ms: number | null }>('SELECT revoked_ms FROM gateways WHERE id = ?', [c.id]);
        if (!old) throw new RegistryError('unknown_gateway', `gateway "${c.id}" does not exist`);
        if (old.revoked_ms !== null) throw new RegistryError('already_revoked', `gateway "${c.id}" is already revoked`);
        await db.run('UPDATE gateways SET revoked_ms = ?, password_hash = NULL WHERE id = ?', [c.atMs, c.id]);
        break;
      }
      case 'addToken': {
        if (c.scope === 'tenant' && !(await db.get('SELECT 1 FROM tenants WHERE id = ?', [c.tenant]))) throw new RegistryError('unknown_tenant', `tenant "${c.tenant}" does not exist`);
        await db.run('INSERT INTO api_tokens (id, tenant, scope, token_hash, created_ms) VALUES (?, ?, ?, ?, ?)', [c.id, c.scope === 'platform' ? '' : c.tenant, c.scope, c.tokenHash, c.atMs]);
        break;
      }
      case 'revokeToken': {
        const old = await db.get<{ revoked_ms: number | null }>('SELECT revoked_ms FROM api_tokens WHERE id = ?', [c.id]);
        if (!old) throw new RegistryError('unknown_token', `token "${c.id}" does not exist`);
        if (old.revoked_ms !== null) throw new RegistryError('already_revoked', `token "${c.id}" is already revoked`);
        await db.run("UPDATE api_tokens SET revoked_ms = ?, token_hash = '' WHERE id = ?", [c.atMs, c.id]);
        break;
      }
      case 'seedGateways': {
        for (const g of c.gateways) {
          await db.run('INSERT INTO tenants (id, created_ms) VALUES (?, ?) ON CONFLICT (id) DO NOTHING', [g.tenant, c.atMs]);
          await db.run(
            `INSERT INTO gateways (id, tenant, password_hash) VALUES (?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, password_hash = CASE WHEN gateways.revoked_ms IS NULL THEN excluded.password_hash ELSE NULL END`,
            [g.id, g.tenant, g.passwordHash]);
        }
        break;
      }
    }
    await db.run('UPDATE registry_revision SET revision = revision + 1');
  });
}
