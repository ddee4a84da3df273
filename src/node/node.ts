// The node: transports to neighbour nodes, the routing table and forwarding, control links to trusted node
// managers, the ends of routes (each wrapped in an end-to-end secure channel) and the local app API.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { type KeyPair, pkToHex, shortPk } from '../net/keys.js';
import { secureAccept, secureConnect, type SecureChannel } from '../net/secure.js';
import { dialSecure, listenSecure, type SecureListener } from '../net/tcp.js';
import { MessengerClient } from '../messenger/client.js';
import { createLogger, type Logger } from '../util/log.js';
import { Backoff } from '../util/backoff.js';
import { formatHostPort, parseHostPort } from '../util/hostport.js';
import { PacketType, payloadLength, type Packet } from './packet.js';
import { RoutingTable, type Rule } from './routing-table.js';
import { Transport, type TransportInfo, type TransportOptions } from './transport.js';
import { PeerRetries, type PeerState, type RetryPolicy } from './peer-retry.js';
import { RouteEnd, RouteEndError, type RouteEndInfo } from './route-end.js';
import { ControlLink, ControlError, type ControlMessage } from '../net/control-link.js';
import { AppApiServer, ApiError } from './app-api.js';
import * as checks from './control-checks.js';
import { SetupQueue } from './setup-queue.js';
import { ECHO_PORT } from './sdk/protocol.js';

/** Ports on the messenger: relayed transports between nodes, and control links to a node manager. */
export const TRANSPORT_PORT = 5;
export const MANAGER_PORT = 6;
/** First byte a dialer sends on a channel to a node's listener. */
const KIND_TRANSPORT = 0x54; // 'T'
const KIND_CONTROL = 0x43; // 'C'
export const NODE_SERVICE = 'skywire-node';
/** Route setups (manager request + end-to-end handshake) a node runs at once; more wait in a bounded queue. */
const MAX_CONCURRENT_SETUPS = 64;
const MAX_QUEUED_SETUPS = 8192;
const MAX_SETUP_WAIT_MS = 120_000;

export interface NodeOptions {
  localKey: KeyPair;
  messengers: Array<{ pk: Buffer; host: string; port: number }>;
  /** Public keys (hex) of the node managers whose rules this node accepts. */
  managers: string[];
  /** Where to accept direct transports; null = relayed only. Default 127.0.0.1:0. */
  listen?: { host: string; port: number } | null;
  /** Address announced for direct transports, when it differs from the listen address. */
  announceAddress?: string;
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
}

export class Node extends EventEmitter {
  readonly pkHex: string;
  readonly messenger: MessengerClient;
  readonly table: RoutingTable;
  readonly api: AppApiServer;
  private readonly log: Logger;
  private readonly transportsByPk = new Map<string, Transport>();
  private readonly ends = new Map<string, RouteEnd>();
  private readonly managerLinks = new Map<string, ControlLink>();
  /** Route ids reserved by each manager and not yet used. */
  private readonly pools = new Map<string, Set<number>>();
  /** New paths of routes under repair, installed and waiting for the manager's "switch". */
  private readonly pendingSwitch = new Map<string, { inRouteId: number; outPk: string; outRouteId: number }>();
  private readonly trusted: Set<string>;
  private readonly wanted = new Set<string>();
  /** Peers the operator removed: auto-connect leaves them alone. */
  private readonly excluded = new Set<string>();
  private readonly dialing = new Map<string, Promise<Transport>>();
  private readonly retries: PeerRetries;
  private readonly setups = new SetupQueue(MAX_CONCURRENT_SETUPS, MAX_QUEUED_SETUPS, MAX_SETUP_WAIT_MS);
  private listener: SecureListener | undefined;
  private apiAddr: { host: string; port: number } | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private stopRelay: (() => void) | undefined;
  private services: Array<{ name: string; port: number; attrs?: Record<string, string> }> = [];
  droppedNoTransport = 0;
  /** Packets for a live route id that came from a transport other than the rule's previous hop. */
  droppedWrongTransport = 0;
  rejectedControl = 0;

  constructor(private readonly o: NodeOptions) {
    super();
    this.pkHex = pkToHex(o.localKey.publicKey);
    this.log = createLogger('node', { pk: shortPk(this.pkHex) });
    this.trusted = new Set(o.managers.map((m) => m.toLowerCase()));
    this.messenger = new MessengerClient({ localKey: o.localKey, messengers: o.messengers, reconnect: { initialMs: 100, maxMs: 2000 } });
    this.table = new RoutingTable({ idleMs: o.routeIdleMs ?? 30_000 });
    this.api = new AppApiServer(this, o.apiToken);
    this.retries = new PeerRetries(o.retry);
  }

  get apiAddress(): { host: string; port: number } | undefined {
    return this.apiAddr;
  }

  get listenAddress(): { host: string; port: number } | undefined {
    return this.listener?.address();
  }

  async start(): Promise<void> {
    this.messenger.on('error', (err: Error) => this.log.warn('messenger', { err }));
    await this.messenger.start();
    this.stopRelay = this.messenger.listen(TRANSPORT_PORT, (s, from) => this.acceptRelayed(s, from));
    if (this.o.listen !== null) {
      const l = this.o.listen ?? { host: '127.0.0.1', port: 0 };
      this.listener = await listenSecure({ localKey: this.o.localKey, host: l.host, port: l.port }, (ch) => this.onInbound(ch, 'direct'));
    }
    await this.announceEntry();
    this.apiAddr = await this.api.listen(this.o.api?.host ?? '127.0.0.1', this.o.api?.port ?? 0);
    for (const m of this.trusted) void this.managerLoop(m);
    for (const pk of this.o.connect ?? []) this.want(pk.toLowerCase());
    const idle = this.table.idleMs;
    this.timers.push(setInterval(() => this.sweep(), Math.max(50, Math.min(idle / 3, 5000))));
    this.timers.push(setInterval(() => this.reportTransports(), 5000));
    this.timers.push(setInterval(() => this.reportStats(), 2000));
    if (this.o.autoConnect) {
      void this.autoConnect();
      this.timers.push(setInterval(() => void this.autoConnect(), 10_000));
    }
    for (const t of this.timers) t.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.retries.close();
    for (const e of this.ends.values()) e.destroy(new RouteEndError('closed', 'node is shutting down'));
    for (const l of this.managerLinks.values()) l.close('node is shutting down');
    for (const t of this.transportsByPk.values()) t.close('node is shutting down');
    this.stopRelay?.();
    await this.api.close();
    await this.listener?.close();
    await this.messenger.close();
  }

  // ---- transports ----

  transportTo(pk: string): Transport | undefined {
    return this.transportsByPk.get(pk);
  }

  transports(): Transport[] {
    return [...this.transportsByPk.values()];
  }

  /** Keeps a transport to `pk`, reconnecting when it drops. */
  want(pk: string): void {
    if (pk === this.pkHex || this.closed) return;
    this.wanted.add(pk);
    if (!this.transportsByPk.has(pk)) void this.connectTo(pk).catch((err: unknown) => this.scheduleRetry(pk, err));
  }

  unwant(pk: string): void {
    this.wanted.delete(pk);
    this.excluded.add(pk);
    this.retries.forget(pk);
    this.transportsByPk.get(pk)?.close('removed by the operator');
  }

  /** Schedules the next try to reach a wanted peer; `err` = the try that just failed (counted). */
  private scheduleRetry(pk: string, err?: unknown): void {
    if (this.closed || !this.wanted.has(pk)) return;
    this.retries.schedule(
      pk,
      () => {
        if (this.transportsByPk.has(pk) || !this.wanted.has(pk)) return;
        this.connectTo(pk).catch((e: unknown) => this.scheduleRetry(pk, e));
      },
      err,
    );
  }

  /** Wanted peers without a transport: trying, retrying quickly, or backing off to the long interval. */
  pendingPeers(): PeerState[] {
    return [...this.wanted].filter((pk) => !this.transportsByPk.has(pk)).map((pk) => this.retries.state(pk, this.dialing.has(pk)));
  }

  /** Sets up a transport to `pk`: direct TCP to an announced address, else relayed by the messenger. */
  connectTo(pk: string): Promise<Transport> {
    const existing = this.transportsByPk.get(pk);
    if (existing && !existing.isClosed) return Promise.resolve(existing);
    let p = this.dialing.get(pk);
    if (p) return p;
    p = this.dialTransport(pk).finally(() => this.dialing.delete(pk));
    this.dialing.set(pk, p);
    return p;
  }

  private async dialTransport(pk: string): Promise<Transport> {
    const pkBuf = Buffer.from(pk, 'hex');
    const entry = await this.messenger.lookup(pk);
    if (!entry) throw new ApiError('offline', `node ${shortPk(pk)} is not registered with the messenger`);
    const errors: string[] = [];
    if (!this.o.relayOnly) {
      for (const a of entry.addresses) {
        try {
          const { host, port } = parseHostPort(a);
          const ch = await dialSecure(host, port, pkBuf, { localKey: this.o.localKey, handshakeTimeoutMs: 5000 });
          ch.write(Buffer.from([KIND_TRANSPORT]));
          return this.addTransport(ch, pk, 'direct', true);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    }
    try {
      const s = await this.messenger.open(pk, TRANSPORT_PORT);
      const ch = await secureConnect(s, pkBuf, { localKey: this.o.localKey, handshakeTimeoutMs: 5000 });
      ch.write(Buffer.from([KIND_TRANSPORT]));
      return this.addTransport(ch, pk, 'relayed', true);
    } catch (err) {
      errors.push((err as Error).message);
      throw new ApiError('unreachable', `cannot reach ${shortPk(pk)}: ${errors.join('; ')}`);
    }
  }

  private acceptRelayed(s: Duplex, from: string): void {
    secureAccept(s, { localKey: this.o.localKey, handshakeTimeoutMs: 5000 }).then(
      (ch) => {
        if (pkToHex(ch.remotePublicKey) !== from) {
          this.log.warn('relayed peer key differs from the messenger sender', { from: shortPk(from) });
          ch.destroy();
          return;
        }
        this.onInbound(ch, 'relayed');
      },
      (err: Error) => this.log.debug('relayed handshake failed', { err }),
    );
  }

  private onInbound(ch: SecureChannel, kind: 'direct' | 'relayed'): void {
    const pk = pkToHex(ch.remotePublicKey);
    const timer = setTimeout(() => ch.destroy(), 5000);
    ch.on('error', () => {});
    ch.once('data', (first: Buffer) => {
      clearTimeout(timer);
      ch.pause();
      if (first.length > 1) ch.unshift(first.subarray(1));
      if (first[0] === KIND_TRANSPORT) {
        this.addTransport(ch, pk, kind, false);
      } else if (first[0] === KIND_CONTROL) {
        if (!this.trusted.has(pk)) {
          this.rejectedControl++;
          this.log.warn('rejected control channel from an untrusted manager key', { manager: shortPk(pk) });
          ch.destroy();
          return;
        }
        this.attachManager(pk, ch);
      } else {
        this.log.debug('unknown channel kind', { peer: shortPk(pk), kind: first[0] });
        ch.destroy();
      }
    });
  }

  private addTransport(ch: Duplex, pk: string, kind: 'direct' | 'relayed', initiator: boolean): Transport {
    const t = new Transport(ch, pk, kind, initiator, this.o.transport);
    const old = this.transportsByPk.get(pk);
    if (old && !old.isClosed) {
      // Both sides dialed at once: keep the transport dialed by the smaller key, on both sides alike.
      const initOf = (x: Transport) => (x.initiator ? this.pkHex : x.pk);
      const keepNew = initOf(t) <= initOf(old);
      const loser = keepNew ? old : t;
      if (!keepNew) {
        t.close('duplicate transport');
        return old;
      }
      this.transportsByPk.set(pk, t);
      loser.close('duplicate transport');
    } else {
      this.transportsByPk.set(pk, t);
    }
    t.on('packet', (p: Packet) => this.onPacket(p, t));
    t.on('close', (reason: string) => this.onTransportClosed(t, reason));
    ch.resume();
    this.retries.succeeded(pk);
    this.log.info('transport up', { peer: shortPk(pk), kind, initiator });
    this.reportTransports();
    this.emit('transport', t);
    return t;
  }

  private onTransportClosed(t: Transport, reason: string): void {
    if (this.transportsByPk.get(t.pk) !== t) return;
    this.transportsByPk.delete(t.pk);
    this.log.info('transport down', { peer: shortPk(t.pk), reason });
    // Streams leaving through it wait for the manager to move them to another path (or fail after a while).
    for (const e of this.ends.values()) {
      if (e.info.outPk === t.pk) e.suspend(`route broken: transport to ${shortPk(t.pk)} lost (${reason})`);
    }
    for (const r of this.table.list()) if (r.kind === 'intermediary' && r.nextPk === t.pk) this.table.delete(r.id);
    this.reportTransports();
    this.scheduleRetry(t.pk);
  }

  private async autoConnect(): Promise<void> {
    try {
      const { entries } = await this.messenger.query({ service: NODE_SERVICE, limit: 100 });
      let n = this.transportsByPk.size;
      for (const e of entries) {
        if (n >= (this.o.autoConnectMax ?? 16)) break;
        if (e.pk !== this.pkHex && !this.transportsByPk.has(e.pk) && !this.excluded.has(e.pk)) {
          n++;
          this.want(e.pk);
        }
      }
    } catch (err) {
      this.log.debug('auto-connect query failed', { err });
    }
  }

  // ---- forwarding ----

  private onPacket(p: Packet, from: Transport): void {
    const rule = this.table.lookup(p.routeId);
    if (!rule) return;
    // A rule takes packets only from the neighbour it was installed for: a route id is no capability, and any
    // key may open a transport. (Our own outbound `forward` rules take none.)
    if (rule.fromPk !== from.pk) {
      this.droppedWrongTransport++;
      return;
    }
    const now = Date.now();
    rule.lastActivity = now;
    const len = payloadLength(p);
    rule.bytesIn += len;
    rule.packetsIn++;
    if (rule.kind === 'intermediary') {
      const next = this.transportsByPk.get(rule.nextPk!);
      if (!next) {
        this.droppedNoTransport++;
        return;
      }
      // A payload that arrived in pieces leaves in pieces (the secure channel seals them without a copy).
      const ok = p.parts ? next.sendv(p.type, rule.nextRouteId!, p.parts, len) : next.send(p.type, rule.nextRouteId!, p.payload);
      rule.bytesOut += len;
      rule.packetsOut++;
      if (p.type === PacketType.CLOSE || p.type === PacketType.ERROR) this.table.delete(rule.id);
      if (!ok) this.holdUntilDrained(from, next);
    } else if (rule.kind === 'consume') {
      const end = this.ends.get(rule.routeKey);
      if (end) end.deliver(p, from);
    }
  }

  /** Backpressure: stop reading `from` while `to` cannot take more. */
  private holdUntilDrained(from: Transport, to: Transport): void {
    if (from.isPausedBy(to)) return;
    from.pauseReading(to);
    const release = () => {
      to.off('drain', release);
      to.off('close', release);
      from.resumeReading(to);
    };
    to.on('drain', release);
    to.on('close', release);
  }

  private sweep(): void {
    const now = Date.now();
    const third = this.table.idleMs / 3;
    for (const e of this.ends.values()) {
      if (now - e.lastSent >= third) e.keepalive();
      // Our own rules of a half-closed stream must not expire while the other direction still works.
      if (e.outRule) e.outRule.lastActivity = now;
      if (e.inRule && e.remoteDone) e.inRule.lastActivity = now;
    }
    for (const r of this.table.expire(now)) {
      if (r.kind === 'consume') {
        this.ends.get(r.routeKey)?.destroy(new RouteEndError('expired', `route expired after ${r.idleMs} ms without traffic`));
      }
    }
  }

  // ---- managers ----

  private async managerLoop(mpk: string): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 5000 });
    while (!this.closed) {
      try {
        const ch = await this.dialManager(mpk);
        backoff.reset();
        const link = this.attachManager(mpk, ch);
        await new Promise((r) => link.once('close', r));
      } catch (err) {
        this.log.debug('manager connect failed', { manager: shortPk(mpk), err });
      }
      if (this.closed) return;
      await new Promise((r) => setTimeout(r, backoff.next()).unref());
    }
  }

  private async dialManager(mpk: string): Promise<SecureChannel> {
    const pkBuf = Buffer.from(mpk, 'hex');
    const entry = await this.messenger.lookup(mpk);
    if (!entry) throw new Error(`manager ${shortPk(mpk)} is not registered with the messenger`);
    for (const a of entry.addresses) {
      try {
        const { host, port } = parseHostPort(a);
        return await dialSecure(host, port, pkBuf, { localKey: this.o.localKey, handshakeTimeoutMs: 5000 });
      } catch (err) {
        this.log.debug('manager address failed', { address: a, err });
      }
    }
    const s = await this.messenger.open(mpk, MANAGER_PORT);
    return secureConnect(s, pkBuf, { localKey: this.o.localKey, handshakeTimeoutMs: 5000 });
  }

  private attachManager(mpk: string, ch: Duplex): ControlLink {
    const link = new ControlLink(ch, (m) => this.onManagerRequest(mpk, m));
    this.managerLinks.get(mpk)?.close('replaced');
    this.managerLinks.set(mpk, link);
    link.on('close', (reason: string) => {
      if (this.managerLinks.get(mpk) === link) {
        this.managerLinks.delete(mpk);
        for (const id of this.pools.get(mpk) ?? []) this.table.delete(id);
        this.pools.delete(mpk);
      }
      this.log.info('manager link down', { manager: shortPk(mpk), reason });
    });
    link.send({ t: 'hello', transports: this.transportReport() });
    this.log.info('manager link up', { manager: shortPk(mpk) });
    this.emit('manager', mpk);
    return link;
  }

  connectedManagers(): string[] {
    return [...this.managerLinks.keys()];
  }

  private transportReport(): Array<{ pk: string; latencyMs: number }> {
    return this.transports().map((t) => ({ pk: t.pk, latencyMs: t.latencyMs }));
  }

  private reportTransports(): void {
    const list = this.transportReport();
    for (const l of this.managerLinks.values()) l.send({ t: 'transports', list });
  }

  /** Traffic counters for the managers (their dashboards show bytes per transport and per rule). */
  private reportStats(): void {
    if (!this.managerLinks.size) return;
    const s = this.status();
    const msg = { t: 'stats', transports: s.transports, rules: (s.rules as unknown[]).slice(0, 500) };
    for (const l of this.managerLinks.values()) l.send(msg);
  }

  private onManagerRequest(mpk: string, m: ControlMessage): Record<string, unknown> | void {
    switch (m.t) {
      case 'reserve': {
        // A pool of ids the manager hands out at route setup, saving a round trip per route; held for as long
        // as the manager link lives, and bounded per manager.
        const count = checks.reserveCount(m);
        const pool = this.pools.get(mpk) ?? new Set<number>();
        if (pool.size + count > checks.MAX_RESERVED_PER_MANAGER) {
          throw new ControlError('busy', `this manager already holds ${pool.size} reserved route ids (at most ${checks.MAX_RESERVED_PER_MANAGER})`);
        }
        const ids = this.table.reserve(count, '', Date.now(), Infinity);
        this.pools.set(mpk, pool);
        for (const id of ids) pool.add(id);
        return { ids };
      }
      case 'install': {
        const key = checks.routeKey(m);
        const rules = checks.installRules(m);
        const pool = this.pools.get(mpk);
        for (const r of rules) {
          if (!pool?.has(r.routeId)) throw new ControlError('bad_request', `route id ${r.routeId} was not reserved by this manager`);
          if (r.kind === 'consume' && 'end' in r) {
            if (this.ends.has(key)) throw new ControlError('bad_request', `route ${key} already has an end here`);
            if (!r.end.initiator && !this.api.isListening(r.end.localPort)) {
              throw new ControlError('refused', `nothing listens on port ${r.end.localPort} at ${shortPk(this.pkHex)}`);
            }
          }
        }
        for (const r of rules) pool!.delete(r.routeId);
        this.install(key, rules);
        return;
      }
      case 'remove':
        this.removeRoute(checks.routeKey(m), checks.removeReason(m));
        return;
      case 'removeIds':
        // The rules of a repaired route's old path.
        for (const id of checks.routeIds(m)) {
          if (this.table.get(id)?.kind === 'intermediary') this.table.delete(id);
        }
        return;
      case 'switch': {
        const key = checks.routeKey(m);
        const end = this.ends.get(key);
        const next = this.pendingSwitch.get(key);
        this.pendingSwitch.delete(key);
        if (!end || !next || !end.repairable) throw new ControlError('not_repairable', `stream ${key} cannot move to a new path`);
        if (end.inRule) this.table.delete(end.inRule.id);
        if (end.outRule) this.table.delete(end.outRule.id);
        end.inRule = this.table.get(next.inRouteId);
        end.outRule = this.table.install({ kind: 'forward', routeKey: key, nextPk: next.outPk, nextRouteId: next.outRouteId });
        end.switchTo(next);
        this.log.info('route moved to a new path', { route: key, next: shortPk(next.outPk) });
        return;
      }
      default:
        this.log.debug('unknown manager message', { manager: shortPk(mpk), t: m.t });
        if (m.id !== undefined) throw new ControlError('bad_request', `unknown message ${JSON.stringify(m.t).slice(0, 40)}`);
    }
  }

  private install(routeKey: string, rules: checks.InstallRule[]): void {
    for (const r of rules) {
      if (r.kind === 'intermediary') {
        this.table.install({ id: r.routeId, kind: 'intermediary', routeKey, nextPk: r.nextPk, nextRouteId: r.nextRouteId, fromPk: r.fromPk });
      } else if ('reroute' in r) {
        const end = this.ends.get(routeKey);
        if (!end || !end.repairable) throw new ControlError('not_repairable', `stream ${routeKey} cannot move to a new path`);
        this.table.install({ id: r.routeId, kind: 'consume', routeKey, fromPk: r.fromPk });
        this.pendingSwitch.set(routeKey, { inRouteId: r.routeId, outPk: r.reroute.outPk, outRouteId: r.reroute.outRouteId });
      } else {
        const inRule = this.table.install({ id: r.routeId, kind: 'consume', routeKey, fromPk: r.fromPk });
        const info: RouteEndInfo = { ...r.end, routeKey, inRouteId: r.routeId };
        const outRule = this.table.install({ kind: 'forward', routeKey, nextPk: info.outPk, nextRouteId: info.outRouteId });
        const end = new RouteEnd(this, info);
        end.inRule = inRule;
        end.outRule = outRule;
        this.ends.set(routeKey, end);
        end.on('error', () => {});
        end.once('close', () => this.onEndClosed(end));
        if (!info.initiator) this.acceptRoute(end);
      }
    }
  }

  private removeRoute(routeKey: string, reason: string): void {
    for (const r of this.table.byRouteKey(routeKey)) this.table.delete(r.id);
    this.ends.get(routeKey)?.destroy(new RouteEndError('broken', reason));
  }

  private onEndClosed(end: RouteEnd): void {
    const key = end.info.routeKey;
    if (this.ends.get(key) === end) this.ends.delete(key);
    if (end.inRule) this.table.delete(end.inRule.id);
    if (end.outRule) this.table.delete(end.outRule.id);
    for (const l of this.managerLinks.values()) l.send({ t: 'closed', routeKey: key });
  }

  /** The destination end of a new route: authenticate the dialer end to end, then hand the stream over. */
  private acceptRoute(end: RouteEnd): void {
    const { remotePk, remotePort, localPort } = end.info;
    secureAccept(end, { localKey: this.o.localKey, handshakeTimeoutMs: 10_000 }).then(
      (ch) => {
        end.handshaking = false;
        if (pkToHex(ch.remotePublicKey) !== remotePk) {
          this.log.warn('end-to-end key differs from the one the manager announced', { route: end.info.routeKey });
          ch.destroy();
          return;
        }
        ch.on('error', () => {});
        if (localPort === ECHO_PORT) ch.pipe(ch);
        else this.api.incoming(localPort, { pk: remotePk, port: remotePort }, ch);
      },
      (err: Error) => {
        this.log.debug('end-to-end handshake failed', { err });
        end.destroy(err);
      },
    );
  }

  // ---- AppApiHost ----

  async dial(fromPort: number, pk: string, port: number, o: { minHops?: number; maxHops?: number; gone?: () => boolean }): Promise<Duplex> {
    if (pk === this.pkHex) throw new ApiError('bad_request', 'cannot dial this node itself');
    return this.setups.run(() => {
      // The app gave up while this dial waited its turn: no route for nobody.
      if (o.gone?.()) throw new ApiError('cancelled', 'the app closed the dial request');
      return this.setUpRoute(fromPort, pk, port, o);
    });
  }

  private async setUpRoute(fromPort: number, pk: string, port: number, o: { minHops?: number; maxHops?: number }): Promise<Duplex> {
    const links = [...this.managerLinks.values()];
    if (!links.length) throw new ApiError('no_manager', 'this node is not connected to any node manager');
    let routeKey = '';
    const t0 = performance.now();
    // Several trusted managers: each knows the nodes linked to it, so the next one is tried unless the answer
    // is final (the destination refused, or the request itself is wrong).
    for (let i = 0; i < links.length && !routeKey; i++) {
      try {
        const r = await links[i].request({ t: 'dial', to: pk, port, fromPort, minHops: o.minHops, maxHops: o.maxHops }, 10_000);
        routeKey = checks.dialReply(r);
      } catch (err) {
        const e = err as ControlError;
        if (i + 1 < links.length && e.code !== 'refused' && e.code !== 'bad_request') continue;
        throw new ApiError(e.code ?? 'error', e.message);
      }
    }
    const end = this.ends.get(routeKey);
    if (!end) throw new ApiError('error', 'the node manager answered but did not install the route here');
    const t1 = performance.now();
    try {
      const ch = await secureConnect(end, Buffer.from(pk, 'hex'), { localKey: this.o.localKey, handshakeTimeoutMs: 10_000 });
      end.handshaking = false;
      this.log.debug('dialed', { route: routeKey, setupMs: t1 - t0, handshakeMs: performance.now() - t1 });
      ch.on('error', () => {});
      return ch;
    } catch (err) {
      end.destroy();
      throw new ApiError('timeout', `end-to-end handshake with ${shortPk(pk)} failed: ${(err as Error).message}`);
    }
  }

  async announce(services: Array<{ name: string; port: number; attrs?: Record<string, string> }>): Promise<void> {
    this.services = services;
    await this.announceEntry();
  }

  private async announceEntry(): Promise<void> {
    const addr = this.o.announceAddress ?? (this.listener ? formatHostPort(this.listener.address()) : undefined);
    await this.messenger.announce({
      addresses: addr ? [addr] : [],
      services: [{ name: NODE_SERVICE, port: 0 }, ...this.services],
    });
  }

  async query(service: string): Promise<Array<{ pk: string; port: number; attrs?: Record<string, string> }>> {
    const { entries } = await this.messenger.query({ service, limit: 100 });
    return entries.flatMap((e) =>
      e.services.filter((s) => s.name === service).map((s) => ({ pk: e.pk, port: s.port, ...(s.attrs ? { attrs: s.attrs } : {}) })),
    );
  }

  status(): Record<string, unknown> {
    const rule = (r: Rule) => ({
      id: r.id,
      kind: r.kind,
      route: r.routeKey,
      ...(r.nextPk ? { nextPk: r.nextPk, nextRouteId: r.nextRouteId } : {}),
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      packetsIn: r.packetsIn,
      packetsOut: r.packetsOut,
      idleMs: Date.now() - r.lastActivity,
    });
    return {
      pk: this.pkHex,
      listen: this.listener ? formatHostPort(this.listener.address()) : null,
      managers: this.connectedManagers(),
      transports: this.transports().map((t) => t.info()),
      rules: this.table.list().filter((r) => r.kind !== 'reserved').map(rule),
      streams: [...this.ends.values()].map((e) => ({
        route: e.info.routeKey,
        remotePk: e.info.remotePk,
        remotePort: e.info.remotePort,
        localPort: e.info.localPort,
        initiator: e.info.initiator,
        repairs: e.repairs,
      })),
      apps: this.api.apps(),
      pending: this.pendingPeers(),
      dropped: {
        unknownRoute: this.table.unknownRoute,
        noTransport: this.droppedNoTransport,
        wrongTransport: this.droppedWrongTransport,
        malformed: this.transports().reduce((n, t) => n + t.decoder.stats.malformed, 0),
        rejectedControl: this.rejectedControl,
      },
    };
  }

  async transportsCmd(action: string, pk?: string): Promise<{ transports: TransportInfo[]; pending: PeerState[] }> {
    if (action !== 'ls') {
      if (!pk || !/^[0-9a-fA-F]{66}$/.test(pk)) throw new ApiError('bad_request', `"${pk ?? ''}" is not a public key (66 hex characters)`);
      pk = pk.toLowerCase();
      if (pk === this.pkHex) throw new ApiError('bad_request', 'a node needs no transport to itself');
    }
    if (action === 'add') {
      this.wanted.add(pk!);
      this.excluded.delete(pk!);
      await this.connectTo(pk!).catch((err: Error) => {
        this.scheduleRetry(pk!, err);
        const s = this.retries.state(pk!, false);
        throw new ApiError(
          (err as ApiError).code ?? 'unreachable',
          `${err.message}; retrying in the background (${s.failures} failed, ${this.retries.fastTries} quick tries, then one every ` +
            `${Math.round(this.retries.slowMs / 1000)} s); "skywire node transports rm ${pk}" stops it`,
        );
      });
    } else if (action === 'rm') {
      if (!this.transportsByPk.has(pk!) && !this.wanted.has(pk!)) throw new ApiError('not_found', `no transport to ${shortPk(pk!)}`);
      this.unwant(pk!);
    } else if (action !== 'ls') {
      throw new ApiError('bad_request', `unknown transports action "${action}" (add, rm or ls)`);
    }
    return { transports: this.transports().map((t) => t.info()), pending: this.pendingPeers() };
  }
}
