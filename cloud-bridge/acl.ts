import { TOPIC_ROOT, topicFor, type TopicKind } from '../core/topics.js';

/** Who a connected client is, as bound to its credential at CONNECT. */
export interface Identity {
  gateway: string;
  tenant: string;
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
  for (const [kind, rule] of Object.entries(PUBLISH) as [TopicKind, { retain: boolean }][]) {
    if (topic === topicFor(who.tenant, who.gateway, kind)) return retain && !rule.retain ? 'publish_retain_not_allowed' : null;
  }
  return 'publish_foreign_topic';
}

/** A gateway may subscribe only to its own .../ack and .../cmd, spelled out (a wildcard is refused). */
export function checkSubscribe(who: Identity, topicFilter: string): boolean {
  return SUBSCRIBE.some((kind) => topicFilter === topicFor(who.tenant, who.gateway, kind));
}

/** Whether a message may be delivered to the client: its own ack/cmd topics only (tenant isolation again, also for retained messages). */
export function checkForward(who: Identity, topic: string): boolean {
  return topic.startsWith(`${TOPIC_ROOT}/`) && checkSubscribe(who, topic);
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
