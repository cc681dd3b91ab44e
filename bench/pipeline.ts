import type { BenchGroup } from './harness.js';
import { tempDir } from '../test/helpers/tmp.js';
import { EdgeRig } from './edge-pipeline.js';

const TOTAL = Number(process.env.BENCH_PIPELINE_READINGS ?? 300_000);

/**
 * Readings through the whole path: spool append (SQLite, FULL), seal, encode, MQTT publish, the cloud
 * bridge's broker and ingest (a separate process, durable SQLite commit), application ACK, spool delete.
 */
export const pipelineGroup: BenchGroup = {
  name: 'pipeline',
  description: `${TOTAL.toLocaleString('en-US')} coal-mine readings through edge spool, MQTT, cloud ingest and store, until all are ACKed`,
  async run(report) {
    const tmp = tempDir('jinyun-bench-');
    const rig = await EdgeRig.start(tmp.dir);
    try {
      const t0 = performance.now();
      await rig.append(TOTAL);
      const appendedS = (performance.now() - t0) / 1000;
      await rig.untilAcked(TOTAL);
      const s = (performance.now() - t0) / 1000;
      report({ name: 'pipeline.readings_per_s', value: TOTAL / s, unit: 'readings/s' });
      report({ name: 'pipeline.append_only_readings_per_s', value: TOTAL / appendedS, unit: 'readings/s' });
      report({ name: 'pipeline.bytes_per_reading', value: rig.uplink.forwarder.counters.bytesSent / TOTAL, unit: 'bytes' });
    } finally {
      await rig.close();
      tmp.cleanup();
    }
  },
};
