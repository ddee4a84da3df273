// The node wires its parts together; each part has one job and its own file (docs/node.md, Inside a node):
//   channels.ts       what reaches the node: transports and control links, told apart by their first byte
//   transports.ts     the transports to neighbours: dialing, keeping, retrying, auto-connect
//   forwarder.ts      each packet to the next hop or to a local route end
//   manager-links.ts  the control links to trusted node managers
//   control-handler.ts what the managers ask: reserve ids, install and remove rules, switch paths
//   route-ends.ts     the local ends of routes and their end-to-end channels
//   route-dialer.ts   an app's dial: route setup and handshake
//   app-api.ts        the local app API, which calls the AppApiHost methods below
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { type KeyPair, pkToHex, shortPk } from '../net/keys.js';
import { listenSecure, type SecureListener } from '../net/tcp.js';
import { MessengerClient } from '../messenger/client.js';
import { createLogger, type Logger } from '../util/log.js';
import { formatHostPort } from '../util/hostport.js';
import type { TransportReport } from '../routing/control-protocol.js';
import { RoutingTable } from './routing-table.js';
import type { Transport, TransportInfo, TransportOptions } from './transport.js';
import type { PeerState, RetryPolicy } from './peer-retry.js';
import { acceptRelayed, demultiplex, TRANSPORT_PORT, type ChannelHandlers, type ChannelKind } from './channels.js';
import { NODE_SERVICE, NODE_SERVICE_ATTRS, Transports } from './transports.js';
import { Forwarder } from './forwarder.js';
import { ManagerLinks } from './manager-links.js';
import { ControlHandler } from './control-handler.js';
import { RouteEnds } from './route-ends.js';
import { RouteDialer, type DialOptions } from './route-dialer.js';
import { AppApiServer, type AppApiHost } from './app-api.js';
import { nodeStatus } from './node-status.js';
import { announcedAddresses } from './announced-addresses.js';
import { PacketType, type Packet } from './packet.js';
import { Meter } from './metering/meter.js';
import { HOUR_MS } from './metering/ledger.js';
import { LedgerThread } from './metering/ledger-thread.js';
import { meteringView, type MeteringRequest } from './metering/view.js';
import { routeEndRef } from './metering/route-end-ref.js';

export { TRANSPORT_PORT } from './channels.js';
export { NODE_SERVICE } from './transports.js';
export { MANAGER_PORT } from '../routing/control-protocol.js';

export interface NodeOptions {
  localKey: KeyPair;
  messengers: Array<{ pk: Buffer; host: string; port: number }>;
  /** Public keys (hex) of the node managers whose rules this node accepts. */
  managers: string[];
  /** Where to accept direct transports; null = relayed only. Default 127.0.0.1:0. */
  listen?: { host: string; port: number } | null;
  /** Address announced for direct transports, when it differs from the listen address. */
  announceAddress?: string;
  /** A human name announced with the node's service entry (`attrs.name`); checked by the caller. */
  name?: string;
  api?: { host: string; port: number };
  apiToken?: string;
  /** Peers to keep a transport to. */
  connect?: string[];
  /** Keep transports to every node the messenger knows (up to autoConnectMax). */
  autoConnect?: boolean;
  autoConnectMax?: number;
  /** Idle expiry of routing rules (default 30 s); ends send keepalives at a third of it. */
  routeIdleMs?: number;
  transport?: TransportOptions;
  /** Direct transports only via relay (for tests of relayed transports). */
  relayOnly?: boolean;
  /** How wanted peers are retried after failed tries. */
  retry?: RetryPolicy;
  /**
   * Bandwidth receipts (docs/metering.md), off unless given (signing costs throughput): kept in memory, or
   * in a ledger in `dir`. Absent or false: no counting, no receipts.
   */
  metering?: { dir?: string; retentionMs?: number } | false;
}

type Service = { name: string; port: number; attrs?: Record<string, string> };

/** Emits 'transport' (a transport came up) and 'manager' (a manager link came up, its key). */
export class Node extends EventEmitter implements AppApiHost {
  readonly pkHex: string;
  readonly messenger: MessengerClient;
  readonly table: RoutingTable;
  readonly api: AppApiServer;
  readonly transports: Transports;
  readonly managers: ManagerLinks;
  readonly ends: RouteEnds;
  readonly forwarder: Forwarder;
  readonly meter: Meter | undefined;
  private readonly ledger: LedgerThread | undefined;
  private readonly control: ControlHandler;
  private readonly dialer: RouteDialer;
  private readonly log: Logger;
  private listener: SecureListener | undefined;
  private apiAddr: { host: string; port: number } | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private stopRelay: (() => void) | undefined;
  private services: Service[] = [];
  private lastAnnounced = '';

  constructor(private readonly o: NodeOptions) {
    super();
    const localKey = o.localKey;
    const pkHex = (this.pkHex = pkToHex(localKey.publicKey));
    const log = (this.log = createLogger('node', { pk: shortPk(pkHex) }));
    this.messenger = new MessengerClient({ localKey, messengers: o.messengers, reconnect: { initialMs: 100, maxMs: 2000 } });
    const table = (this.table = new RoutingTable({ idleMs: o.routeIdleMs ?? 30_000 }));
    this.api = new AppApiServer(this, o.apiToken);
    const transportTo = (pk: string) => this.transports.get(pk);
    this.ends = new RouteEnds({
      localKey,
      table,
      log,
      transportTo,
      incoming: (port, remote, stream) => this.api.incoming(port, remote, stream),
      closed: (routeKey) => this.managers.broadcast({ t: 'closed', routeKey }),
    });
    if (o.metering) {
      // On its own thread: LevelDB open on the main thread multiplied its major GCs (ledger-thread.ts).
      this.ledger = o.metering?.dir ? new LedgerThread(o.metering.dir, o.metering.retentionMs) : undefined;
      this.meter = new Meter({
        key: localKey,
        pkHex,
        log,
        ledger: this.ledger,
        sendReceipt: (pk, raw) => this.transports.get(pk)?.send(PacketType.RECEIPT, 0, raw) ?? false,
        ruleAlive: (id) => (table.get(id)?.kind ?? 'reserved') !== 'reserved',
        routeKeyOf: (id) => {
          const r = table.get(id);
          return r?.kind === 'consume' ? r.routeKey : undefined;
        },
        routeEnd: (key) => routeEndRef(this.ends, table, transportTo, key),
      });
    }
    const meter = this.meter;
    // A RECEIPT over a route is the far end's route receipt (docs/metering.md), for the meter, not the stream.
    const deliver = (key: string, p: Packet, from: Transport) =>
      p.type === PacketType.RECEIPT ? meter?.onRouteReceipt(key, p.payload) : this.ends.deliver(key, p, from);
    this.forwarder = new Forwarder({ table, transportTo, meter, deliver });
    this.transports = new Transports({
      localKey,
      pkHex,
      messenger: this.messenger,
      log,
      transport: o.transport,
      relayOnly: o.relayOnly,
      retry: o.retry,
      autoConnectMax: o.autoConnectMax,
      onPacket: (p, from) => this.forwarder.onPacket(p, from),
    });
    this.transports.on('up', (t: Transport) => {
      if (meter) t.on('receipt', (raw: Buffer) => meter.onReceipt(t.pk, raw));
      this.reportTransports();
      this.emit('transport', t);
    });
    this.transports.on('down', (t: Transport, reason: string) => this.onTransportDown(t, reason));
    this.control = new ControlHandler({ table, ends: this.ends, pkHex, log, isListening: (port) => this.api.isListening(port) });
    this.managers = new ManagerLinks({
      localKey,
      messenger: this.messenger,
      managers: o.managers,
      log,
      onRequest: (mpk, m) => this.control.handle(mpk, m),
      transports: () => this.transportReport(),
    });
    this.managers.on('up', (mpk: string) => this.emit('manager', mpk));
    this.managers.on('down', (mpk: string) => this.control.dropManager(mpk));
    this.dialer = new RouteDialer(pkHex, this.managers, this.ends, log);
  }

  get apiAddress(): { host: string; port: number } | undefined {
    return this.apiAddr;
  }

  get listenAddress(): { host: string; port: number } | undefined {
    return this.listener?.address();
  }

  async start(): Promise<void> {
    this.messenger.on('error', (err: Error) => this.log.warn('messenger', { err }));
    this.messenger.on('connected', () => this.reannounceIfMoved());
    await this.ledger?.open();
    await this.messenger.start();
    const channels: ChannelHandlers = {
      transport: (ch, pk, kind) => this.transports.add(ch, pk, kind, false),
      control: (ch, pk) => this.managers.accept(ch, pk),
    };
    const inbound = (kind: ChannelKind) => (ch: Parameters<typeof demultiplex>[0]) => demultiplex(ch, kind, channels, this.log);
    this.stopRelay = this.messenger.listen(TRANSPORT_PORT, (s, from) => acceptRelayed(s, from, this.o.localKey, this.log, inbound('relayed')));
    if (this.o.listen !== null) {
      const l = this.o.listen ?? { host: '127.0.0.1', port: 0 };
      this.listener = await listenSecure({ localKey: this.o.localKey, host: l.host, port: l.port }, inbound('direct'));
    }
    await this.announceEntry();
    this.apiAddr = await this.api.listen(this.o.api?.host ?? '127.0.0.1', this.o.api?.port ?? 0);
    this.managers.start();
    for (const pk of this.o.connect ?? []) this.transports.want(pk.toLowerCase());
    const idle = this.table.idleMs;
    this.timers.push(setInterval(() => this.ends.sweep(Date.now()), Math.max(50, Math.min(idle / 3, 5000))));
    this.timers.push(setInterval(() => this.reportTransports(), 5000));
    this.timers.push(setInterval(() => this.reportStats(), 2000));
    const meter = this.meter;
    if (meter) this.timers.push(setInterval(() => void meter.tick(), 1000));
    const ledger = this.ledger;
    // Old hours into daily totals (docs/metering.md, Ledger); also done at open.
    if (ledger) this.timers.push(setInterval(() => void ledger.compact().catch((err: Error) => this.log.warn('metering compaction failed', { err: err.message })), HOUR_MS));
    if (this.o.autoConnect) {
      void this.transports.autoConnect();
      this.timers.push(setInterval(() => void this.transports.autoConnect(), 10_000));
    }
    for (const t of this.timers) t.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.ends.destroyAll('node is shutting down');
    // The last counts and receipts reach the ledger (and our neighbours) before the transports go.
    await this.meter?.tick();
    await this.meter?.snapshot();
    this.managers.close('node is shutting down');
    this.transports.close('node is shutting down');
    this.stopRelay?.();
    await this.api.close();
    await this.listener?.close();
    await this.messenger.close();
    await this.ledger?.close();
  }

  private onTransportDown(t: Transport, reason: string): void {
    // Streams leaving through it wait for the manager to move them to another path (or fail after a while).
    this.ends.lostTransport(t.pk, `route broken: transport to ${shortPk(t.pk)} lost (${reason})`);
    for (const r of this.table.list()) if (r.kind === 'intermediary' && r.nextPk === t.pk) this.table.delete(r.id);
    this.reportTransports();
  }

  private transportReport(): TransportReport[] {
    return this.transports.list().map((t) => ({ pk: t.pk, latencyMs: t.latencyMs }));
  }

  private reportTransports(): void {
    this.managers.broadcast({ t: 'transports', list: this.transportReport() });
  }

  /** Traffic counters for the managers (their dashboards show bytes per transport and per rule). */
  private reportStats(): void {
    if (!this.managers.connected().length) return;
    const s = this.status();
    this.managers.broadcast({ t: 'stats', transports: s.transports as unknown[], rules: (s.rules as unknown[]).slice(0, 500) });
  }

  // ---- AppApiHost ----

  dial(fromPort: number, pk: string, port: number, o: DialOptions): Promise<Duplex> {
    return this.dialer.dial(fromPort, pk, port, o);
  }

  async announce(services: Service[]): Promise<void> {
    this.services = services;
    await this.announceEntry();
  }

  /** Addresses announced for direct transports (see announced-addresses.ts). */
  get announcedAddresses(): string[] {
    return announcedAddresses(this.listener?.address(), this.o.announceAddress, this.messenger.observedAddresses());
  }

  private async announceEntry(): Promise<void> {
    const addresses = this.announcedAddresses;
    this.lastAnnounced = addresses.join(' ');
    await this.messenger.announce({ addresses, services: [{ name: NODE_SERVICE, port: 0, attrs: { ...NODE_SERVICE_ATTRS, ...(this.o.name ? { name: this.o.name } : {}) } }, ...this.services] });
  }

  /** After a (re)registration the observed public address may be new: announce it. */
  private reannounceIfMoved(): void {
    if (this.closed || this.announcedAddresses.join(' ') === this.lastAnnounced) return;
    this.announceEntry().then(
      () => this.log.info('announced addresses', { addresses: this.lastAnnounced }),
      (err: Error) => this.log.warn('announce failed', { err }),
    );
  }

  async query(service: string): Promise<Array<{ pk: string; port: number; attrs?: Record<string, string> }>> {
    const { entries } = await this.messenger.query({ service, limit: 100 });
    return entries.flatMap((e) =>
      e.services.filter((s) => s.name === service).map((s) => ({ pk: e.pk, port: s.port, ...(s.attrs ? { attrs: s.attrs } : {}) })),
    );
  }

  status(): Record<string, unknown> {
    return nodeStatus(this, this.listener ? formatHostPort(this.listener.address()) : null);
  }

  metering(req: MeteringRequest): Promise<Record<string, unknown>> {
    return meteringView(req, { pkHex: this.pkHex, key: this.o.localKey, meter: this.meter, ledger: this.ledger });
  }

  transportsCmd(action: string, pk?: string): Promise<{ transports: TransportInfo[]; pending: PeerState[] }> {
    return this.transports.command(action, pk);
  }
}
