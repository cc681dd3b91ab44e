import {
  AttributeIds, DataChangeFilter, DataChangeTrigger, DeadbandType, TimestampsToReturn,
  type ClientMonitoredItemBase, type ClientSession, type ClientSubscription, type DataValue, type MonitoringParametersOptions,
} from 'node-opcua-client';
import type { Reading } from '../../core/reading.js';
import type { Point } from '../driver.js';
import type { OpcuaDevice, OpcuaTag } from './config.js';
import { badReading, toReading } from './convert.js';

type OpcuaPoint = Point<OpcuaTag>;

export interface LiveSubscription {
  /** Revised publishing interval x revised max keep-alive count: the longest silence a healthy subscription allows. */
  readonly keepAlivePeriodMs: number;
  /** performance.now() of the last publish response (data or keep-alive). */
  lastActivity(): number;
  readonly items: number;
  /** Points whose monitored item the server refused (each got one Bad reading with the server's code). */
  readonly badItems: { key: string; code: number }[];
  close(): Promise<void>;
}

export interface SubscribeOptions {
  session: ClientSession;
  device: OpcuaDevice;
  points: OpcuaPoint[];
  now: () => number;
  /** Readings of one burst of notifications (coalesced per event-loop turn). */
  onReadings: (readings: Reading[]) => void;
  /** The server says the subscription is gone (status change, termination). */
  onBroken: (reason: string) => void;
}

/** Monitoring parameters of one tag, and a key that groups tags with identical parameters into one request. */
export function monitoringOf(tag: OpcuaTag, device: OpcuaDevice): { key: string; params: MonitoringParametersOptions } {
  const samplingInterval = tag.samplingIntervalMs ?? device.samplingIntervalMs;
  const queueSize = tag.queueSize ?? device.queueSize;
  const d = tag.deadband;
  const key = `${samplingInterval}|${queueSize}|${d ? `${d.type}:${d.value}` : ''}`;
  const filter = d
    ? new DataChangeFilter({ trigger: DataChangeTrigger.StatusValue, deadbandType: d.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent, deadbandValue: d.value })
    : null;
  return { key, params: { samplingInterval, queueSize, discardOldest: true, filter } };
}

/**
 * Creates one subscription and a monitored item per point, grouped by identical parameters and
 * chunked by maxItemsPerCall (node-opcua sends a group in one CreateMonitoredItems request). A
 * refused item (BadNodeIdUnknown, BadFilterNotAllowed ...) marks that tag Bad once and leaves the
 * others running. Values arrive through the groups' "changed" events, are converted at once and
 * handed over in one batch per event-loop turn.
 */
export async function startSubscription(o: SubscribeOptions): Promise<LiveSubscription> {
  const { session, device } = o;
  const sub: ClientSubscription = await session.createSubscription2({
    requestedPublishingInterval: device.publishingIntervalMs,
    requestedMaxKeepAliveCount: device.keepAliveCount,
    requestedLifetimeCount: device.lifetimeCount,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 10,
  });
  let last = performance.now();
  let pending: Reading[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const out = pending;
    pending = [];
    if (out.length > 0) o.onReadings(out);
  };
  const push = (r: Reading): void => {
    pending.push(r);
    if (!scheduled) { scheduled = true; setImmediate(flush); }
  };
  sub.on('raw_notification', () => { last = performance.now(); });
  sub.on('status_changed', (status: { name?: string; toString(): string }) => o.onBroken(`subscription status changed: ${status.name ?? status.toString()}`));
  sub.on('terminated', () => o.onBroken('subscription terminated'));

  const groups = new Map<string, { params: MonitoringParametersOptions; points: OpcuaPoint[] }>();
  for (const p of o.points) {
    const { key, params } = monitoringOf(p.config, device);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { params, points: [] }));
    g.points.push(p);
  }
  const badItems: { key: string; code: number }[] = [];
  for (const { params, points } of groups.values()) {
    for (let i = 0; i < points.length; i += device.maxItemsPerCall) {
      const chunk = points.slice(i, i + device.maxItemsPerCall);
      const items = chunk.map((p) => ({ nodeId: p.config.nodeId, attributeId: AttributeIds.Value }));
      const group = await sub.monitorItems(items, params, TimestampsToReturn.Both);
      group.on('changed', (_item: ClientMonitoredItemBase, dv: DataValue, index: number) => {
        const p = chunk[index];
        if (p) push(toReading(p.tagId, dv, o.now()));
      });
      group.monitoredItems.forEach((item, j) => {
        const code = item.statusCode?.value ?? 0;
        const p = chunk[j];
        if (p && code >>> 30 >= 2) {
          badItems.push({ key: p.key, code: code >>> 0 });
          push(badReading(p.tagId, code, o.now()));
        }
      });
    }
  }
  return {
    keepAlivePeriodMs: sub.publishingInterval * sub.maxKeepAliveCount,
    lastActivity: () => last,
    items: o.points.length,
    badItems,
    async close() {
      sub.removeAllListeners();
      flush();
      await sub.terminate().catch(() => undefined);
    },
  };
}
