import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import type { RegistryGateway, RegistrySnapshot, RegistryStore, RegistryToken } from './store/reading-store.js';

export interface RegistryContext {
  logger: Logger;
}

/**
 * The registry as the broker and ingest see it: an in-memory copy of the store's tenants, gateways
 * and tokens, reloaded when the store's revision moves (polled every `pollMs`, so `jinyun admin
 * gateway revoke` in another process takes effect within one interval, on every worker).
 * Listeners hear about every gateway that was active and no longer is (revoked or deleted).
 */
export class Registry {
  private snapshot: RegistrySnapshot = { revision: -1, tenants: [], gateways: [], tokens: [] };
  private byId = new Map<string, RegistryGateway>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly revokedListeners: ((gatewayId: string) => void)[] = [];
  private readonly log: Logger;

  constructor(private readonly store: RegistryStore, ctx: RegistryContext) {
    this.log = ctx.logger.child({ component: 'registry' });
  }

  /** Loads the registry, then polls its revision every pollMs (0 = never). */
  async start(pollMs: number): Promise<void> {
    await this.reload();
    if (pollMs > 0) {
      this.timer = setInterval(() => { this.polling ??= this.poll().finally(() => { this.polling = undefined; }); }, pollMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }

  /** Called with the id of every gateway or API token that stops being active (revoked or removed). */
  onRevoked(listener: (gatewayId: string) => void): void {
    this.revokedListeners.push(listener);
  }

  /** An active (not revoked) gateway, or undefined. */
  gateway(id: string): RegistryGateway | undefined {
    const g = this.byId.get(id);
    return g && !g.revoked ? g : undefined;
  }

  /** Whether the id (a gateway or an API token) was registered and then revoked. */
  isRevoked(id: string): boolean {
    return this.byId.get(id)?.revoked === true || this.snapshot.tokens.some((t) => t.id === id && t.revoked);
  }

  activeTokens(): RegistryToken[] {
    return this.snapshot.tokens.filter((t) => !t.revoked);
  }

  get revision(): number {
    return this.snapshot.revision;
  }

  /** Checks the revision now and reloads when it moved (tests and the admin path call this to skip the wait). */
  async poll(): Promise<void> {
    try {
      if ((await this.store.registryRevision()) !== this.snapshot.revision) await this.reload();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'registry poll failed; keeping the last copy');
    }
  }

  private async reload(): Promise<void> {
    const next = await this.store.loadRegistry();
    const before = this.byId;
    const tokensBefore = this.snapshot.tokens.filter((t) => !t.revoked).map((t) => t.id);
    this.snapshot = next;
    this.byId = new Map(next.gateways.map((g) => [g.id, g]));
    for (const [id, old] of before) {
      if (old.revoked) continue;
      const now = this.byId.get(id);
      if (!now || now.revoked) {
        this.log.warn({ gateway: id, tenant: old.tenant }, 'gateway revoked');
        for (const l of this.revokedListeners) l(id);
      }
    }
    const activeTokens = new Set(next.tokens.filter((t) => !t.revoked).map((t) => t.id));
    for (const id of tokensBefore) {
      if (activeTokens.has(id)) continue;
      this.log.warn({ token: id }, 'API token revoked');
      for (const l of this.revokedListeners) l(id);
    }
    this.log.info({ revision: next.revision, gateways: next.gateways.length, tenants: next.tenants.length }, 'registry loaded');
  }
}
