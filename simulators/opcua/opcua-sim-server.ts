import { join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { DataType, MessageSecurityMode, SecurityPolicy, StatusCodes, type StatusCode, Variant, VariantArrayType, setErrorLogger, setWarningLogger } from 'node-opcua-client';
import { OPCUAServer } from 'node-opcua-server';
import type { Logger } from '../../core/logger.js';
import { opcuaProfile, type SimDataType, type SimVariable } from './profiles.js';

type AddressSpace = NonNullable<OPCUAServer['engine']['addressSpace']>;
type Namespace = ReturnType<AddressSpace['registerNamespace']>;
type UAObject = ReturnType<Namespace['addObject']>;
type UAVariable = ReturnType<Namespace['addVariable']>;

// node-opcua prints warnings on stdout; the simulator's stdout carries JSON event lines only.
setWarningLogger(() => undefined);
setErrorLogger(() => undefined);

export interface SimUser { username: string; password: string }

export interface OpcuaSimOptions {
  port: number;
  profile: string;
  /** PKI of the server (own certificate created on first start, trusted/rejected client certificates). */
  pkiDir: string;
  logger: Logger;
  tickMs?: number;
  users?: SimUser[];
  /** Offer the None endpoint (commissioning, browse without certificates). Default true. */
  allowNone?: boolean;
  allowAnonymous?: boolean;
  /** Extra Double variables "Bulk.00000" ... changing every bulkTickMs (benchmarks). */
  bulk?: number;
  bulkTickMs?: number;
  /** Accept every client certificate (default true); false = clients must be in pkiDir/trusted. */
  acceptClients?: boolean;
}

export const DEFAULT_SIM_USERS: SimUser[] = [{ username: 'operator', password: 'operator-pw' }, { username: 'engineer', password: 'engineer-pw' }];

const DT: Record<SimDataType, { dataType: DataType; array: boolean }> = {
  Double: { dataType: DataType.Double, array: false }, Float: { dataType: DataType.Float, array: false },
  Int32: { dataType: DataType.Int32, array: false }, UInt32: { dataType: DataType.UInt32, array: false },
  Int64: { dataType: DataType.Int64, array: false }, Boolean: { dataType: DataType.Boolean, array: false },
  String: { dataType: DataType.String, array: false }, DoubleArray: { dataType: DataType.Double, array: true },
};

function statusOf(code: number): StatusCode {
  const known = (Object.values(StatusCodes) as StatusCode[]).find((s) => s.value === code >>> 0);
  if (!known) throw new Error(`unknown status code 0x${(code >>> 0).toString(16)}`);
  return known;
}

function variantOf(def: SimVariable | null, value: unknown): Variant {
  if (!def) return new Variant({ dataType: DataType.Double, value });
  const t = DT[def.dataType];
  if (t.array) return new Variant({ dataType: t.dataType, arrayType: VariantArrayType.Array, value: Float64Array.from(value as number[]) });
  if (t.dataType === DataType.Int64) {
    const b = BigInt.asUintN(64, value as bigint);
    return new Variant({ dataType: t.dataType, arrayType: VariantArrayType.Scalar, value: [Number(b >> 32n), Number(b & 0xffffffffn)] });
  }
  return new Variant({ dataType: t.dataType, value });
}

/**
 * node-opcua server with a coal-mine or steel-plant address space, values that change every tick,
 * security (None/Sign/SignAndEncrypt x Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss),
 * user accounts and X.509 users, and fault injection for tests: restart(), stopPublishing(),
 * setBad(). Values depend on wall time since a fixed epoch, so they continue across restarts.
 */
export class OpcuaSimServer {
  private server: OPCUAServer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private bulkTimer: NodeJS.Timeout | null = null;
  private readonly epoch = Date.now();
  private readonly vars = new Map<string, { def: SimVariable | null; node: UAVariable; last: string }>();
  private readonly overrides = new Map<string, number>();
  private frozenSessions = new Set<string>();
  private bulkValue = 0;
  private ticks = 0;
  nsIndex = 2;
  port = 0;

  constructor(private readonly opts: OpcuaSimOptions) {
    const log = opts.logger.child({ component: 'node-opcua' });
    const print = (...args: unknown[]): void => log.debug(args.map(String).join(' '));
    setWarningLogger(print);
    setErrorLogger(print);
  }

  get endpointUrl(): string {
    return `opc.tcp://127.0.0.1:${this.port}`;
  }

  /** NodeId string of a variable path, e.g. nodeId('Mine.MainFan1.Speed') = "ns=2;s=Mine.MainFan1.Speed". */
  nodeId(path: string): string {
    return `ns=${this.nsIndex};s=${path}`;
  }

  /** Ticks so far: the value of Sim.Counter. */
  get tickCount(): number {
    return this.ticks;
  }

  get variablePaths(): string[] {
    return [...this.vars.keys()];
  }

  async start(): Promise<number> {
    const o = this.opts;
    const users = o.users ?? DEFAULT_SIM_USERS;
    const policies = [SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss];
    const server = new OPCUAServer({
      port: this.port || o.port,
      resourcePath: '',
      buildInfo: { productName: `Jinyun OPC UA simulator (${o.profile})`, manufacturerName: 'Jinyun', softwareVersion: '0.1.0' },
      serverInfo: { applicationUri: `urn:jinyun:sim:${o.profile}`, applicationName: { text: `jinyun-sim-${o.profile}` } },
      serverCertificateManager: new OPCUACertificateManager({ rootFolder: join(o.pkiDir, 'server'), automaticallyAcceptUnknownCertificate: o.acceptClients ?? true }),
      userCertificateManager: new OPCUACertificateManager({ rootFolder: join(o.pkiDir, 'users'), automaticallyAcceptUnknownCertificate: true }),
      securityModes: [...(o.allowNone ?? true ? [MessageSecurityMode.None] : []), MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [...(o.allowNone ?? true ? [SecurityPolicy.None] : []), ...policies],
      allowAnonymous: o.allowAnonymous ?? true,
      userManager: { isValidUser: (u: string, p: string) => users.some((x) => x.username === u && x.password === p) },
      maxConnectionsPerEndpoint: 200,
      serverCapabilities: { maxSessions: 200, operationLimits: { maxMonitoredItemsPerCall: 10_000, maxNodesPerRead: 10_000, maxNodesPerBrowse: 10_000 } },
    });
    await server.initialize();
    this.build(server);
    this.wrapPublish(server);
    await server.start();
    this.server = server;
    this.port = server.endpoints[0]?.port ?? o.port;
    this.timer = setInterval(() => { this.ticks++; this.tick(); }, o.tickMs ?? 100);
    if (o.bulk) this.bulkTimer = setInterval(() => this.tickBulk(), o.bulkTickMs ?? 1000);
    this.tick();
    o.logger.info({ port: this.port, profile: o.profile, variables: this.vars.size }, 'OPC UA simulator listening');
    return this.port;
  }

  private build(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace!;
    const profile = opcuaProfile(this.opts.profile);
    const ns = addressSpace.registerNamespace(profile.namespaceUri);
    this.nsIndex = ns.index;
    this.vars.clear();
    const folders = new Map<string, UAObject>();
    const objects = addressSpace.rootFolder.objects;
    const parentOf = (path: string): UAObject => {
      const parts = path.split('.').slice(0, -1);
      let parent = objects as unknown as UAObject;
      for (let i = 0; i < parts.length; i++) {
        const key = parts.slice(0, i + 1).join('.');
        let f = folders.get(key);
        if (!f) {
          f = ns.addObject({ organizedBy: i === 0 ? objects : undefined, componentOf: i === 0 ? undefined : parent, browseName: parts[i]!, nodeId: `s=${key}` });
          folders.set(key, f);
        }
        parent = f;
      }
      return parent;
    };
    for (const def of profile.variables) this.addVariable(ns, parentOf(def.path), def);
    for (let i = 0; i < (this.opts.bulk ?? 0); i++) {
      const path = `Bulk.${String(i).padStart(5, '0')}`;
      const node = ns.addVariable({ componentOf: parentOf(path), browseName: path.split('.').pop()!, nodeId: `s=${path}`, dataType: 'Double', minimumSamplingInterval: 0 });
      node.setValueFromSource(new Variant({ dataType: DataType.Double, value: 0 }));
      this.vars.set(path, { def: null, node, last: '' });
    }
  }

  private addVariable(ns: Namespace, parent: UAObject, def: SimVariable): void {
    const browseName = def.path.split('.').pop()!;
    const t = DT[def.dataType];
    const common = { componentOf: parent, browseName, nodeId: `s=${def.path}`, description: def.description ?? '', minimumSamplingInterval: def.minimumSamplingIntervalMs ?? 50 };
    const node = def.range && t.dataType === DataType.Double && !t.array
      ? ns.addAnalogDataItem({ ...common, dataType: 'Double', engineeringUnitsRange: { low: def.range[0], high: def.range[1] }, engineeringUnits: { displayName: { text: def.unit ?? '' }, description: { text: def.unit ?? '' }, namespaceUri: 'http://www.opcfoundation.org/UA/units/un/cefact', unitId: -1 } }) as unknown as UAVariable
      : ns.addVariable({ ...common, dataType: DataType[t.dataType], valueRank: t.array ? 1 : -1 });
    this.vars.set(def.path, { def, node, last: '' });
  }

  /** Swallows publish requests of the sessions that exist now: "connected but no data" (node-opcua #1334). */
  private wrapPublish(server: OPCUAServer): void {
    const s = server as unknown as { _on_PublishRequest: (message: { request: { requestHeader: { authenticationToken: { toString(): string } } } }, channel: unknown) => void };
    const orig = s._on_PublishRequest.bind(server);
    s._on_PublishRequest = (message, channel) => {
      if (this.frozenSessions.has(message.request.requestHeader.authenticationToken.toString())) return;
      orig(message, channel);
    };
  }

  private tick(): void {
    const t = (Date.now() - this.epoch) / 1000;
    const now = new Date();
    for (const [path, v] of this.vars) {
      if (!v.def) continue;
      const bad = this.overrides.get(path);
      const value = v.def.gen(t, this.ticks);
      const key = `${typeof value === 'bigint' ? value.toString() : JSON.stringify(value)}|${bad ?? 0}`;
      if (key === v.last) continue;
      v.last = key;
      v.node.setValueFromSource(variantOf(v.def, value), bad === undefined ? StatusCodes.Good : statusOf(bad), now);
    }
  }

  private tickBulk(): void {
    this.bulkValue++;
    const now = new Date();
    for (const v of this.vars.values()) if (!v.def) v.node.setValueFromSource(new Variant({ dataType: DataType.Double, value: this.bulkValue }), StatusCodes.Good, now);
  }

  /** Fault: the node reports this status (e.g. 0x808c0000 BadSensorFailure) until cleared with null. */
  setStatus(path: string, code: number | null): void {
    if (!this.vars.has(path)) throw new Error(`no variable ${path}`);
    if (code === null) this.overrides.delete(path); else this.overrides.set(path, code);
    const v = this.vars.get(path)!;
    v.last = '';
    this.tick();
  }

  /** The sessions open now, as the server sees them: message security and user identity (for tests and logs). */
  sessions(): { securityMode: string; securityPolicy: string; user: string }[] {
    const engine = this.server?.engine;
    if (!engine) return [];
    return engine.getSessions().filter((s) => s.channel).map((s) => {
      const token = s.userIdentityToken as { constructor: { name: string }; userName?: string | null } | undefined;
      const kind = token?.constructor.name ?? '';
      const user = kind.startsWith('UserName') ? `username:${token?.userName ?? ''}` : kind.startsWith('X509') ? 'certificate' : 'anonymous';
      return { securityMode: MessageSecurityMode[s.channel!.securityMode] ?? String(s.channel!.securityMode), securityPolicy: String(s.channel!.securityPolicy).replace(/^.*#/, ''), user };
    });
  }

  /** Fault: sessions open now get no more publish responses (their subscriptions go silent); new sessions work. */
  stopPublishing(): number {
    const sessions = (this.server?.engine as unknown as { _sessions?: Record<string, unknown> } | undefined)?._sessions ?? {};
    this.frozenSessions = new Set(Object.keys(sessions));
    return this.frozenSessions.size;
  }

  /** Fault: the server goes away for downMs, then comes back on the same port with the same certificate. */
  async restart(downMs = 1000): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    this.frozenSessions.clear();
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.bulkTimer) clearInterval(this.bulkTimer);
    this.timer = this.bulkTimer = null;
    const s = this.server;
    this.server = null;
    if (s) await s.shutdown(0);
  }
}
