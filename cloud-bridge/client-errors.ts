/**
 * The reason code of an error aedes reports for a client (bad-input rows 2-5 and 8), or null when
 * the error is ordinary connection trouble (a reset, a close, a keepalive timeout) or was already
 * counted by an ACL hook (a refused publish). Malformed packets from the MQTT parser (QoS 3, bad
 * flag bits, truncated properties, invalid UTF-8) all count as `malformed_packet`.
 */
export function clientErrorReason(err: Error & { code?: string; errorCode?: number }): string | null {
  const m = err.message;
  if (err.code !== undefined && /^E[A-Z]+$/.test(err.code)) return null; // ECONNRESET, EPIPE, ...
  if (m === 'connection closed' || m === 'keep alive timeout' || m.startsWith('publish to ')) return null;
  if (err.errorCode !== undefined) {
    // A CONNACK refusal: the authenticate hook counted its own (auth_*); aedes' own ones are named here.
    if (m === 'unacceptable protocol version') return 'bad_protocol_version';
    if (m === 'identifier rejected') return 'client_id_rejected';
    if (m === 'keep alive limit exceeded') return 'keepalive_limit';
    return null;
  }
  if (m === 'drain timeout') return 'drain_timeout';
  if (m === 'connect did not arrive in time') return 'connect_timeout';
  if (m === 'topic has too many levels') return 'topic_too_deep';
  if (/^[#+] is not allowed in PUBLISH$/.test(m)) return 'publish_wildcard';
  if (m === 'empty topic not allowed in PUBLISH') return 'publish_empty_topic';
  if (m === 'Invalid protocol') return 'invalid_protocol';
  if (m === 'Client queue limit reached') return 'queue_limit';
  if (m.startsWith('maxInflightInbound exceeded')) return 'inflight_limit';
  return 'malformed_packet';
}
