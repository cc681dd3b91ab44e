import type { Logger } from '../core/logger.js';
import { topicFor } from '../core/topics.js';
import { errorMessage } from '../core/errors.js';
import { encodeCatalog, encodeStatus, type CatalogData } from '../proto/codec.js';
import type { EdgeConfig } from './config.js';
import type { Spool } from './spool.js';
import { MqttLink } from './mqtt-link.js';
import { Forwarder } from './forwarder.js';

export const VERSION = '0.1.0';

export interface Uplink {
  readonly link: MqttLink;
  readonly forwarder: Forwarder;
  readonly topics: Record<'data' | 'ack' | 'status' | 'catalog' | 'health' | 'cmd', string>;
  close(): Promise<void>;
}

/**
 * The spool's way out: the MQTT link (status as last will, catalog and status retained on every
 * connect, ack topic subscribed) and the forwarder that settles batches on the application ACK.
 */
export function startUplink(args: { gateway: EdgeConfig['gateway']; uplink: EdgeConfig['uplink']; spool: Spool; catalog: CatalogData; logger: Logger }): Uplink {
  const { gateway: { tenant, id }, uplink: u, spool, catalog } = args;
  const log = args.logger;
  const topics = { data: topicFor(tenant, id, 'data'), ack: topicFor(tenant, id, 'ack'), status: topicFor(tenant, id, 'status'), catalog: topicFor(tenant, id, 'catalog'), health: topicFor(tenant, id, 'health'), cmd: topicFor(tenant, id, 'cmd') };
  const status = (online: boolean) => encodeStatus({ online, producerId: spool.producerId, epoch: spool.epoch, timeMs: Date.now(), version: VERSION });
  const catalogBytes = encodeCatalog(catalog);

  const link = new MqttLink({
    url: u.url, clientId: id, username: u.username ?? id, password: u.password, keepaliveS: u.keepaliveS, connectTimeoutMs: u.connectTimeoutMs,
    reconnectInitialMs: u.reconnectInitialMs, reconnectMaxMs: u.reconnectMaxMs, reconnectRefusedMaxMs: u.reconnectRefusedMaxMs, tls: u.tls,
    will: { topic: topics.status, payload: status(false) }, subscriptions: [topics.ack], logger: log.child({ component: 'uplink' }),
  });
  const publishCatalog = (): Promise<void> => link.publish(topics.catalog, catalogBytes, { qos: 1, retain: true });
  const forwarder = new Forwarder(spool, link, {
    dataTopic: topics.data, maxReadings: u.batch.maxReadings, maxBytes: u.batch.maxBytes, maxDelayMs: u.batch.maxDelayMs, historicalAfterMs: u.batch.historicalAfterMs,
    ackTimeoutMs: u.ackTimeoutMs, maxInFlight: u.maxInFlight, compression: u.compression, order: u.order, retryInitialMs: Math.min(1000, u.ackTimeoutMs), retryMaxMs: Math.max(30_000, u.ackTimeoutMs),
    logger: log.child({ component: 'forwarder' }),
    onCatalogNeeded: () => void publishCatalog().catch((err) => log.warn({ err: errorMessage(err) }, 'catalog publish failed')),
  });
  link.on('up', () => {
    // Catalog and status are written first on the connection (MQTT keeps the order), so the ingest
    // knows every tag before any batch; their PUBACKs are not waited for.
    void Promise.all([publishCatalog(), link.publish(topics.status, status(true), { qos: 1, retain: true })])
      .catch((err) => log.warn({ err: errorMessage(err) }, 'status/catalog publish failed'));
    forwarder.onLinkUp();
  });
  link.on('down', () => forwarder.onLinkDown());
  link.on('message', (topic, payload) => {
    if (topic === topics.ack) void forwarder.onAckMessage(payload).catch((err) => log.error({ err: errorMessage(err) }, 'ack handling failed'));
  });
  link.start();
  return {
    link, forwarder, topics,
    async close() {
      await forwarder.close();
      await link.close({ topic: topics.status, payload: status(false) });
    },
  };
}
