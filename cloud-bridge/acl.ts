import { ID_PATTERN, TOPIC_ROOT, topicFor, type TopicKind } from '../core/topics.js';

/**
 * Who a connected client is, as bound to its credential at CONNECT: a gateway (its own password or
 * certificate), or a reader (a tenant's API token, `jinyun admin token create`) that may only
 * subscribe to its tenant's alarm topics. `gateway` is the client id in both cases.
 */
export interface Identity {
  gateway: string;
  tenant: string;
  role: 'gateway' | 'reader';
}

/** A reader's topic filters: its tenant's alarms of one gateway, or of every gateway with `+`. */
function readerFilterOk(who: Identity, topicFilter: string): boolean {
  const prefix = `${TOPIC_ROOT}/${who.tenant}/`;
  if (!topicFilter.startsWith(prefix) || !topicFilter.endsWith('/alarm')) return false;
  const gw = topicFilter.slice(prefix.length, -'/alarm'.length);
  return gw === '+' || ID_PATTERN.test(gw);
}

/** Topic kinds a gateway may publish, and whether they may be retained. */
const PUBLISH: Partial<Record<TopicKind, { retain: boolean }>> = {
  data: { retain: false },
  health: { retain: false },
  catalog: { retain: true },
  status: { retain: true },
};

/** Topic kinds a gateway may subscribe to (exact topics only, no wildcards). */
const SUBSCRIBE: readonly TopicKind[] = ['ack', 'cmd'];

export type PublishDenial = 'publish_sys' | 'publish_foreign_topic' | 'publish_retain_not_allowed' | 'publish_invalid_topic';

/**
 * A gateway may publish only jinyun/v1/{its tenant}/{its id}/{data|health|catalog|status}, with the
 * tenant taken from the credential. Everything else, $SYS included, is refused. Retain is allowed
 * for catalog and status only (retained data would be replayed to every new subscriber).
 */
export function checkPublish(who: Identity, topic: string, retain: boolean): PublishDenial | null {
  // U+0000, or U+FFFD where the parser met invalid UTF-8 (bad-input row 3): never a topic of ours.
  if (/[\u0000\ufffd]/.test(topic)) return 'publish_invalid_topic';
  if (topic.startsWith('$')) return 'publish_sys';
  if (who.role === 'reader') return 'publish_foreign_topic';
  for (const [kind, rule] of Object.entries(PUBLISH) as [TopicKind, { retain: boolean }][]) {
    if (topic === topicFor(who.tenant, who.gateway, kind)) return retain && !rule.retain ? 'publish_retain_not_allowed' : null;
  }
  return 'publish_foreign_topic';
}

/**
 * A gateway may subscribe only to its own .../ack and .../cmd, spelled out (a wildcard is refused).
 * A reader only to jinyun/v1/{its tenant}/{gateway or +}/alarm.
 */
export function checkSubscribe(who: Identity, topicFilter: string): boolean {
  if (who.role === 'reader') return readerFilterOk(who, topicFilter);
  return SUBSCRIBE.some((kind) => topicFilter === topicFor(who.tenant, who.gateway, kind));
}

/** Whether a message may be delivered to the client: its own ack/cmd topics only (tenant isolation again, also for retained messages). */
export function checkForward(who: Identity, topic: string): boolean {
  if (!topic.startsWith(`${TOPIC_ROOT}/`) || topic.includes('+') || topic.includes('#')) return false;
  return checkSubscribe(who, topic);
}

export type IdDenial = 'bad_client_id' | 'no_credentials' | 'client_id_mismatch';

/** Characters never allowed in a client id or username (pattern-ACL bypass, CVE-2017-7650 class). */
const FORBIDDEN = /[+#/\u0000]/;

/** Checks the CONNECT identity fields before any password work: no wildcards or NUL, username equals clientId. */
export function checkConnectIdentity(clientId: string, username: string | undefined): IdDenial | null {
  if (!clientId || FORBIDDEN.test(clientId)) return 'bad_client_id';
  if (username === undefined || username === '') return 'no_credentials';
  if (FORBIDDEN.test(username) || username !== clientId) return 'client_id_mismatch';
  return null;
}
