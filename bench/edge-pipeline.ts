import { join } from 'node:path';
import { Spool, SPOOL_DEFAULTS } from '../edge/spool.js';
import { startUplink, type Uplink } from '../edge/uplink.js';
import { edgeConfigSchema } from '../edge/config.js';
import { silentLogger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';
import { startCloudChild } from '../test/helpers/cloud-child.js';
import { startAckOnlyCloud, type CloudEnd } from './ack-only.js';
import { coalMineSeries, type SyntheticSeries } from './synthetic.js';

async function bridge(dir: string): Promise<CloudEnd> {
  const c = await startCloudChild(dir);
  return { mqttPort: c.mqttPort, httpPort: c.httpPort, gateway: c.gateway, pid: c.child.proc.pid ?? null, stop: () => c.stop() };
}

/**
 * The real edge parts (spool, uplink, forwarder) in this process, the real cloud bridge as a child
 * process, and a synthetic coal-mine source that appends as fast as the spool takes it.
 */
export class EdgeRig {
  private constructor(readonly spool: Spool, readonly uplink: Uplink, readonly cloud: CloudEnd, private readonly series: SyntheticSeries[], private readonly ids: Map<string, number>) {}
  /** Source time of the next readings: in the past (the ingest quarantines readings from the future), 1 s per 10 readings. */
  private t = Math.floor(Date.now() / 1000) * 1000 - 30 * 86_400_000;

  /** cloud: the real cloud bridge as a child process (default), or an in-process broker that ACKs without storing. */
  static async start(dir: string, opts: { cloud?: 'bridge' | 'ackOnly' } = {}): Promise<EdgeRig> {
    const cloud = opts.cloud === 'ackOnly' ? await startAckOnlyCloud() : await bridge(dir);
    const spool = await Spool.open({ ...SPOOL_DEFAULTS, path: join(dir, 'spool.db'), synchronous: 'FULL', maxReadings: 100_000_000, maxBytes: 8 * 1024 ** 3, logger: silentLogger() });
    const series = coalMineSeries();
    const ids = await spool.tagIds(series.map((s) => s.key));
    const uplink = startUplink({
      gateway: { id: cloud.gateway.id, tenant: cloud.gateway.tenant }, spool, logger: silentLogger(),
      uplink: edgeConfigSchema.shape.uplink.parse({ url: `mqtt://127.0.0.1:${cloud.mqttPort}`, password: cloud.gateway.password, batch: { maxReadings: Number(process.env.BENCH_BATCH ?? 5000), maxBytes: Number(process.env.BENCH_BATCH_BYTES ?? 262144), maxDelayMs: 50 }, maxInFlight: 4, ackTimeoutMs: 30_000, reconnectInitialMs: 100, reconnectMaxMs: 500 }),
      catalog: { producerId: spool.producerId, version: spool.epoch, devices: [], tags: series.map((s) => ({ id: ids.get(s.key)!, key: s.key, device: s.key.split('/')[0]!, unit: s.unit, dataType: 'float32', description: '' })) },
    });
    return new EdgeRig(spool, uplink, cloud, series, ids);
  }

  /** Appends n readings (1,000 per append, one per tag per simulated second). */
  async append(n: number): Promise<void> {
    for (let done = 0; done < n; ) {
      const chunk: Reading[] = [];
      while (chunk.length < 1000 && done < n) {
        for (const s of this.series) {
          if (chunk.length >= 1000 || done >= n) break;
          chunk.push({ tagId: this.ids.get(s.key)!, ts: this.t, value: s.next(this.t), quality: 0 });
          done++;
        }
        this.t += 1000;
      }
      await this.spool.append(chunk, 'synthetic');
      this.uplink.forwarder.notifyAppended();
    }
  }

  /** Waits until `total` readings are ACKed; fails at once when the ingest rejects a batch, or after timeoutMs. */
  async untilAcked(total: number, timeoutMs = 600_000): Promise<void> {
    const end = performance.now() + timeoutMs;
    const c = this.uplink.forwarder.counters;
    while (c.ackedReadings < total) {
      if (c.rejected > 0) throw new Error(`the ingest rejected ${c.rejected} batch(es); see the spool's quarantine table`);
      if (performance.now() > end) throw new Error(`only ${c.ackedReadings} of ${total} readings ACKed after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    await this.uplink.close();
    await this.spool.close();
    await this.cloud.stop();
  }
}
