import {
  AttributeIds, BrowseDirection, DataTypeIds, NodeClass, NodeClassMask, ReferenceTypeIds,
  type BrowseDescriptionLike, type BrowseResult, type ClientSession, type ReferenceDescription,
} from 'node-opcua-client';
import { ID_PATTERN } from '../../core/topics.js';

/** One Variable found by browsing. */
export interface BrowsedVariable {
  /** Browse path from the root, dot-joined ("MainFan1.Speed"). */
  path: string;
  nodeId: string;
  dataType: string;
  unit: string;
  description: string;
}

export interface BrowseProgress { nodes: number; variables: number; queued: number; depth: number }

export interface BrowseOptions {
  root: string;
  maxDepth: number;
  /** Called after every batch (for a progress indicator). */
  onProgress?: (p: BrowseProgress) => void;
  batchSize?: number;
}

const dataTypeNames = new Map<number, string>(Object.entries(DataTypeIds).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

async function browseAll(session: ClientSession, nodes: BrowseDescriptionLike[]): Promise<ReferenceDescription[][]> {
  if (nodes.length === 0) return [];
  const results: BrowseResult[] = await session.browse(nodes);
  const out = results.map((r) => [...(r.references ?? [])]);
  let pending = results.map((r, i) => ({ i, cp: r.continuationPoint })).filter((x) => x.cp && x.cp.length > 0);
  while (pending.length > 0) {
    const next = await session.browseNext(pending.map((p) => p.cp!), false);
    const more: typeof pending = [];
    next.forEach((r, j) => {
      const p = pending[j]!;
      out[p.i]!.push(...(r.references ?? []));
      if (r.continuationPoint && r.continuationPoint.length > 0) more.push({ i: p.i, cp: r.continuationPoint });
    });
    pending = more;
  }
  return out;
}

const children = (nodeId: string): BrowseDescriptionLike => ({
  nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: ReferenceTypeIds.HierarchicalReferences, includeSubtypes: true,
  nodeClassMask: NodeClassMask.Object | NodeClassMask.Variable, resultMask: 0x3f,
});

const properties = (nodeId: string): BrowseDescriptionLike => ({
  nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: ReferenceTypeIds.HasProperty, includeSubtypes: false,
  nodeClassMask: NodeClassMask.Variable, resultMask: 0x3f,
});

/**
 * Breadth-first walk of the address space below root, following hierarchical references
 * (Organizes, HasComponent ...) but not HasProperty, skipping namespace 0 (the Server object).
 * Returns every Variable with its data type and the EngineeringUnits property where present.
 */
export async function browseVariables(session: ClientSession, o: BrowseOptions): Promise<BrowsedVariable[]> {
  const batch = o.batchSize ?? 200;
  const seen = new Set<string>([o.root]);
  const found: { ref: ReferenceDescription; path: string }[] = [];
  let level: { nodeId: string; path: string }[] = [{ nodeId: o.root, path: '' }];
  let nodes = 0;
  for (let depth = 1; depth <= o.maxDepth && level.length > 0; depth++) {
    const next: typeof level = [];
    for (let i = 0; i < level.length; i += batch) {
      const chunk = level.slice(i, i + batch);
      const refs = await browseAll(session, chunk.map((n) => children(n.nodeId)));
      refs.forEach((list, j) => {
        for (const ref of list) {
          if (ref.referenceTypeId.value === ReferenceTypeIds.HasProperty && ref.referenceTypeId.namespace === 0) continue;
          const id = ref.nodeId.toString();
          if (ref.nodeId.namespace === 0 || seen.has(id)) continue;
          seen.add(id);
          nodes++;
          const path = chunk[j]!.path ? `${chunk[j]!.path}.${ref.browseName.name ?? ''}` : (ref.browseName.name ?? '');
          if (ref.nodeClass === NodeClass.Variable) found.push({ ref, path });
          next.push({ nodeId: id, path });
        }
      });
      o.onProgress?.({ nodes, variables: found.length, queued: level.length - i - chunk.length + next.length, depth });
    }
    level = next;
  }
  const out: BrowsedVariable[] = [];
  for (let i = 0; i < found.length; i += batch) out.push(...(await describe(session, found.slice(i, i + batch))));
  return out;
}

async function describe(session: ClientSession, chunk: { ref: ReferenceDescription; path: string }[]): Promise<BrowsedVariable[]> {
  const ids = chunk.map((c) => c.ref.nodeId.toString());
  const attrs = await session.read(ids.flatMap((nodeId) => [
    { nodeId, attributeId: AttributeIds.DataType }, { nodeId, attributeId: AttributeIds.ValueRank }, { nodeId, attributeId: AttributeIds.Description },
  ]));
  const props = await browseAll(session, ids.map(properties));
  const euIds = props.map((list) => list.find((r) => r.browseName.name === 'EngineeringUnits')?.nodeId.toString());
  const euWanted = euIds.map((id, i) => ({ id, i })).filter((x): x is { id: string; i: number } => Boolean(x.id));
  const euValues = euWanted.length ? await session.read(euWanted.map((x) => ({ nodeId: x.id, attributeId: AttributeIds.Value }))) : [];
  const units = new Map<number, string>(euWanted.map((x, k) => [x.i, ((euValues[k]?.value.value as { displayName?: { text?: string | null } } | null)?.displayName?.text ?? '') as string]));
  return chunk.map((c, i) => {
    const dt = attrs[3 * i]?.value.value as { namespace: number; value: unknown } | null;
    const rank = attrs[3 * i + 1]?.value.value as number | null;
    const desc = attrs[3 * i + 2]?.value.value as { text?: string | null } | null;
    const base = dt && dt.namespace === 0 && typeof dt.value === 'number' ? (dataTypeNames.get(dt.value) ?? `i=${dt.value}`) : dt ? `ns=${dt.namespace};${String(dt.value)}` : '';
    return { path: c.path, nodeId: ids[i]!, dataType: rank !== null && rank >= 1 ? `${base}[]` : base, unit: units.get(i) ?? '', description: desc?.text ?? '' };
  });
}

/** Tag names from browse paths: valid IDs, at most 64 characters, unique (a numeric suffix on clashes). */
export function tagNames(paths: string[]): string[] {
  const used = new Set<string>();
  return paths.map((p) => {
    let base = p.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(-64) || 'tag';
    if (!/^[A-Za-z0-9]/.test(base)) base = `t${base}`.slice(0, 64);
    let name = base;
    for (let n = 2; used.has(name) || !ID_PATTERN.test(name); n++) name = `${base.slice(0, 60)}-${n}`;
    used.add(name);
    return name;
  });
}
