import mqtt from 'mqtt';
import { decodeBatch, encodeAck } from '../proto/codec.js';
import { topicFor } from '../core/topics.js';
import { plainBroker } from '../test/helpers/plain-broker.js';

/** What the edge rig needs of "the cloud": where to connect, as whom, and how to stop it. */
export interface CloudEnd {
  mqttPort: number;
  /** HTTP API port of the cloud bridge (0 when there is none). */
  httpPort: number;
  gateway: { id: string; tenant: string; password: string };
  /** Process id of the cloud when it is a separate process (for its CPU time). */
  pid: number | null;
  stop(): Promise<void>;
}

/**
 * No cloud store at all: an in-process aedes broker and a subscriber that decodes each batch and
 * ACKs it at once. Measures what the edge parts alone reach (the decoding ACKer shares this process
 * and its core, so it is a lower bound of the edge's own ceiling).
 */
export async function startAckOnlyCloud(): Promise<CloudEnd> {
  const gateway = { id: 'gw-1', tenant: 'tenant-a', password: 'unused' };
  const broker = await plainBroker();
  const acker = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'acker', reconnectPeriod: 0 });
  const ackTopic = topicFor(gateway.tenant, gateway.id, 'ack');
  acker.on('message', (_topic, payload) => {
    const b = decodeBatch(payload);
    void acker.publishAsync(ackTopic, Buffer.from(encodeAck({ producerId: b.producerId, epoch: b.epoch, seqFirst: b.seqFirst, count: b.readings.length, result: 'ok' })), { qos: 1 });
  });
  await acker.subscribeAsync(topicFor(gateway.tenant, gateway.id, 'data'), { qos: 1 });
  return {
    mqttPort: broker.port, httpPort: 0, gateway, pid: null,
    stop: async () => {
      await acker.endAsync();
      await broker.close();
    },
  };
}
