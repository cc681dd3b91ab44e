/** Identifier of a tenant or gateway: safe in a topic level, a file name and a log line. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const TOPIC_ROOT = 'jinyun/v1';

export type TopicKind = 'data' | 'ack' | 'health' | 'catalog' | 'status' | 'cmd';
export const TOPIC_KINDS: readonly TopicKind[] = ['data', 'ack', 'health', 'catalog', 'status', 'cmd'];

export function topicFor(tenant: string, gateway: string, kind: TopicKind): string {
  return `${TOPIC_ROOT}/${tenant}/${gateway}/${kind}`;
}

export interface ParsedTopic {
  tenant: string;
  gateway: string;
  kind: TopicKind;
}

/** Parses `jinyun/v1/{tenant}/{gateway}/{kind}`; null for anything else. */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== 'jinyun' || parts[1] !== 'v1') return null;
  const [, , tenant, gateway, kind] = parts as [string, string, string, string, string];
  if (!ID_PATTERN.test(tenant) || !ID_PATTERN.test(gateway)) return null;
  if (!(TOPIC_KINDS as readonly string[]).includes(kind)) return null;
  return { tenant, gateway, kind: kind as TopicKind };
}
