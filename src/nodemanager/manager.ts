// The node manager: nodes keep a control link to it and report their transports; it keeps the graph, computes
// forward and reverse paths for route requests, reserves route ids on every hop, installs the rules (each node
// acknowledges), and tells both ends. When a node or a transport disappears, every live route through it is
// repaired: new paths are installed and both ends switch to them, resending what the other end did not
// receive (see route-end.ts). A route that cannot be repaired (an end is gone, no other path, a half-closed
// stream) is removed and both ends get a clear error. New dials take another path at once, since the graph no
// longer has the dead hop.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { type KeyPair, pkToHex, shortPk } from '../net/keys.js';
import { secureAccept } from '../net/secure.js';
import { listenSecure, type SecureListener } from '../net/tcp.js';
import { MessengerClient } from '../messenger/client.js';
import { createLogger } from '../util/log.js';
import { dialableAddresses } from '../util/dialable.js';
import { formatHostPort } from '../util/hostport.js';
import { Graph, NoPathError } from './graph.js';
import { ControlLink, ControlError, type ControlMessage } from '../net/control-link.js';
import {
  decodeNodeMessage,
  decodeReserveReply,
  MANAGER_PORT,
  MANAGER_SERVICE,
  MAX_RESERVE_PER_REQUEST,
  type DialMessage,
  type DialReply,
  type InstallRule,
  type ManagerMessage,
  type NodeStats,
  type RouteEndSpec,
} from '../routing/control-protocol.js';
import { Penalties, type PenaltyOptions } from './penalties.js';
import type { RouteView } from './dashboard/model.js';
import type { RedisUrl } from '../util/redis-url.js';
import { IdConflict, SharedStore, SharedUnavailable } from './shared-store.js';
import { SharedRoutes } from './shared-routes.js';
import { sharedStatus } from './shared-status.js';
import { toStored, type PathMatch, type RouteRecord } from './route-record.js';

export { MANAGER_PORT, MANAGER_SERVICE, type NodeStats } from '../routing/control-protocol.js';
const POOL_SIZE = 64;
/** Most ids one refill asks a node for (the node refuses more per request). */
const MAX_REFILL = MAX_RESERVE_PER_REQUEST;

export interface ManagerOptions {
  localKey: KeyPair;
  messengers: Array<{ pk: Buffer; host: string; port: number }>;
  listen?: { host: string; port: number };
  announceAddress?: string;
  /** Per-node step of route setup (reserve, install), default 5 s. */
  setupTimeoutMs?: number;
  /** Hop limit when a request gives none (default 16). */
  defaultMaxHops?: number;
  /** Strikes against nodes that fail route setups, and when they are left out of paths. */
  penalties?: PenaltyOptions;
  /** Paths tried for one route request, each avoiding the hops that failed before (default 2). */
  setupAttempts?: number;
  /** Live routes one node may have dialed (default 4096): a node that never reports its routes closed cannot grow the table without bound. */
  maxRoutesPerNode?: number;
  /** Share the graph, route id claims and live routes with other managers in this Redis (docs/control-plane.md). */
  redis?: { url: RedisUrl; prefix?: string };
}

/** A step of route setup that failed at one node (which then gets a strike, and the next try avoids it). */
class HopError extends ControlError {
  constructor(
    readonly node: string,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

const atNode = (node: string) => (err: unknown): never => {
  if (err instanceof HopError) throw err;
  const e = err as ControlError;
  throw new HopError(node, e.code ?? 'error', `node ${shortPk(node)}: ${e.message}`);
};

/** The consume rule of a route's end: a new end, or the new path of an end under repair. */
type EndRule = { end: RouteEndSpec } | { reroute: { outPk: string; outRouteId: number } };

const log = createLogger('nodemanager');

export class NodeManager extends EventEmitter {
  readonly pkHex: string;
  readonly graph = new Graph();
  readonly messenger: MessengerClient;
  private readonly links = new Map<string, ControlLink>();
  private readonly routes = new Map<string, RouteRecord>();
  /** Live routes per dialing node. */
  private readonly dialed = new Map<string, number>();
  /** Route ids each node reserved for us in advance, so route setup is a single install round. */
  private readonly pools = new Map<string, number[]>();
  private readonly refills = new Map<string, Promise<void>>();
  /** Ids that route setups waiting on a node's refill still need: a refill asks for that many, not just a pool. */
  private readonly demand = new Map<string, number>();
  /** The traffic counters each node last reported. */
  private readonly stats = new Map<string, NodeStats>();
  /** Nodes that failed route setups recently; benched ones are left out of new paths. */
  readonly penalties: Penalties;
  private listener: SecureListener | undefined;
  private stopRelay: (() => void) | undefined;
  /** The state shared with other managers (with --redis), else undefined: this manager works alone, in memory. */
  readonly shared: SharedStore | undefined;
  private readonly sharedRoutes: SharedRoutes | undefined;
  private closing = false;
  routesSetUp = 0;
  routesFailed = 0;
  routesBroken = 0;
  /** Paths broken by a dead node or transport (routesRepaired of them moved to a new path, routesLost not). */
  routesRepaired = 0;
  routesLost = 0;

  constructor(private readonly o: ManagerOptions) {
    super();
    this.pkHex = pkToHex(o.localKey.publicKey);
    this.penalties = new Penalties(o.penalties);
    this.messenger = new MessengerClient({ localKey: o.localKey, messengers: o.messengers, reconnect: { initialMs: 100, maxMs: 2000 } });
    if (o.redis) {
      this.shared = new SharedStore({ ...o.redis, managerPk: this.pkHex, listen: () => (this.listener ? formatHostPort(this.listener.address()) : null) });
      this.sharedRoutes = new SharedRoutes(this.shared, {
        pkHex: this.pkHex,
        routes: this.routes,
        isLinked: (pk) => this.links.has(pk),
        isClosing: () => this.closing,
        claim: (r) => this.claim(r),
        repair: (r, why) => this.repair(r, why),
        forget: (r) => this.forget(r),
      });
      // Back from an outage: write every live route we hold again (Redis may have restarted empty).
      this.shared.on('recovered', () => void this.sharedRoutes?.writeAll());
    }
  }

  get listenAddress(): { host: string; port: number } | undefined {
    return this.listener?.address();
  }

  async start(): Promise<void> {
    await this.shared?.start();
    await this.messenger.start();
    const l = this.o.listen ?? { host: '127.0.0.1', port: 0 };
    this.listener = await listenSecure({ localKey: this.o.localKey, host: l.host, port: l.port }, (ch) => this.attachChannel(ch));
    this.stopRelay = this.messenger.listen(MANAGER_PORT, (s: Duplex) => {
      secureAccept(s, { localKey: this.o.localKey, handshakeTimeoutMs: 5000 }).then(
        (ch) => this.attachChannel(ch),
        (err: Error) => log.debug('relayed handshake failed', { err }),
      );
    });
    await this.messenger.announce({
      addresses: dialableAddresses(this.listener.address(), this.o.announceAddress),
      services: [{ name: MANAGER_SERVICE, port: MANAGER_PORT }],
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const l of this.links.values()) l.close('node manager is shutting down');
    this.stopRelay?.();
    await this.listener?.close();
    await this.messenger.close();
    await this.shared?.close();
  }

  nodes(): string[] {
    return [...this.links.keys()];
  }

  liveRoutes(): RouteRecord[] {
    return [...this.routes.values()];
  }

  /** A control channel already authenticated as `ch.remotePublicKey` (the listener and the relay hand theirs here; the bench, in-memory ones). */
  attachChannel(ch: Duplex & { remotePublicKey: Buffer }): void {
    const pk = pkToHex(ch.remotePublicKey);
    ch.on('error', () => {});
    const link = new ControlLink(ch, (m) => this.onMessage(pk, m));
    this.links.get(pk)?.close('replaced by a new link');
    this.links.set(pk, link);
    this.pools.set(pk, []);
    this.graph.addNode(pk);
    void this.refill(pk).catch(() => {});
    log.info('node up', { node: shortPk(pk) });
    link.on('close', (reason: string) => {
      if (this.links.get(pk) !== link) return;
      this.links.delete(pk);
      this.pools.delete(pk);
      this.stats.delete(pk);
      this.graph.removeNode(pk);
      this.shared?.nodeGone(pk);
      log.info('node down', { node: shortPk(pk), reason });
      this.breakRoutes((r) => r.fwd.includes(pk) || r.rev.includes(pk), `route broken: node ${shortPk(pk)} went offline`, [pk]);
      this.emit('nodeDown', pk);
    });
    this.emit('nodeUp', pk);
  }

  private onMessage(pk: string, raw: ControlMessage): Promise<Record<string, unknown>> | void {
    // Any key may open a control link: check the shape of everything before it touches the graph or a route.
    let m: ReturnType<typeof decodeNodeMessage>;
    try {
      m = decodeNodeMessage(raw);
    } catch (err) {
      log.debug('bad control message', { node: shortPk(pk), t: String(raw.t).slice(0, 40), issue: (err as Error).message });
      if (raw.id !== undefined) throw err;
      return;
    }
    switch (m.t) {
      case 'hello':
      case 'transports': {
        const list = m.t === 'hello' ? m.transports : m.list;
        const lost = this.graph.setTransports(pk, list);
        this.shared?.report(pk, list.map((t) => ({ pk: t.pk, latencyMs: Number(t.latencyMs) || 0 })));
        for (const peer of lost) {
          this.breakRoutes(
            (r) => usesEdge(r.fwd, pk, peer) || usesEdge(r.rev, pk, peer),
            `route broken: transport ${shortPk(pk)}-${shortPk(peer)} lost`,
            [pk, peer],
          );
        }
        this.emit('transports', pk);
        return;
      }
      case 'dial':
        return this.setupRoute(pk, m);
      case 'stats':
        this.stats.set(pk, { transports: m.transports, rules: m.rules });
        return;
      case 'closed': {
        // Only an end may close its route (an intermediate knows the key too, and must not stop its repair).
        const r = this.routes.get(m.routeKey);
        if (r && (r.from === pk || r.to === pk)) this.forget(r);
        else if (r) log.info('"closed" from a node that is not an end of the route: ignored', { route: r.key, node: shortPk(pk) });
        // A route another manager set up (its nodes tell every manager): gone from the shared records too.
        else void this.sharedRoutes?.closed(m.routeKey, pk);
        return;
      }
    }
  }

  private refill(pk: string): Promise<void> {
    let p = this.refills.get(pk);
    if (p) return p;
    const link = this.links.get(pk);
    if (!link) return Promise.reject(new ControlError('offline', `node ${shortPk(pk)} went offline`));
    const count = Math.min(MAX_REFILL, POOL_SIZE + (this.demand.get(pk) ?? 0));
    p = link
      .request({ t: 'reserve', count } satisfies ManagerMessage, this.o.setupTimeoutMs ?? 5000)
      .then((r) => {
        // At most the ids asked for, each a valid distinct id: a node cannot flood the pool or poison it.
        const ids = decodeReserveReply(r, count);
        if (this.links.get(pk) === link) this.pools.get(pk)?.push(...ids);
      })
      .finally(() => this.refills.delete(pk));
    this.refills.set(pk, p);
    return p;
  }

  /** Takes `count` reserved ids of node `pk`, waiting for a refill when the pool runs dry. */
  private async takeIds(pk: string, count: number): Promise<number[]> {
    for (let tries = 0; ; tries++) {
      const pool = this.pools.get(pk);
      if (!pool) throw new HopError(pk, 'offline', `node ${shortPk(pk)} on the path went offline`);
      if (pool.length >= count) {
        const ids = pool.splice(0, count);
        if (pool.length < POOL_SIZE / 4) void this.refill(pk).catch(() => {});
        return ids;
      }
      if (tries > 3) throw new HopError(pk, 'busy', `node ${shortPk(pk)} has no free route ids`);
      // A burst of dials (2,000 SOCKS connections at once) needs more than a pool: the refill is sized by demand.
      this.demand.set(pk, (this.demand.get(pk) ?? 0) + count);
      try {
        await this.refill(pk).catch(atNode(pk));
      } finally {
        const left = (this.demand.get(pk) ?? count) - count;
        if (left > 0) this.demand.set(pk, left);
        else this.demand.delete(pk);
      }
    }
  }

  private breakRoutes(match: PathMatch, reason: string, via: string[]): void {
    if (this.sharedRoutes) return void this.sharedRoutes.break(match, reason, via);
    for (const r of [...this.routes.values()]) {
      if (!match(r) || r.repairing) continue;
      r.repairing = true;
      void this.repair(r, reason);
    }
  }

  private forget(r: RouteRecord): void {
    if (this.routes.get(r.key) !== r) return;
    this.routes.delete(r.key);
    void this.shared?.removeRoute(r.key).catch((err: Error) => log.warn('deleting a route record failed', { route: r.key, err }));
    if (!r.mine) return;
    const n = (this.dialed.get(r.from) ?? 1) - 1;
    if (n > 0) this.dialed.set(r.from, n);
    else this.dialed.delete(r.from);
  }

  private dropRoute(r: RouteRecord, reason: string, extra: Iterable<string> = []): void {
    this.forget(r);
    this.routesBroken++;
    this.routesLost++;
    log.info('route broken', { route: r.key, reason });
    for (const n of new Set([...r.fwd, ...r.rev, ...extra])) this.links.get(n)?.send({ t: 'remove', routeKey: r.key, reason } satisfies ManagerMessage);
    this.emit('routeBroken', r.key);
  }

  /** Moves a live route off a dead hop: new paths, new rules, then both ends switch and resend what was lost. */
  private async repair(r: RouteRecord, reason: string): Promise<void> {
    const involved = new Set<string>();
    try {
      if (!this.links.has(r.from) || !this.links.has(r.to)) throw new ControlError('offline', 'an end of the route is gone');
      const { fwd, rev } = this.findPaths({ from: r.from, to: r.to, minHops: r.minHops, maxHops: r.maxHops }, new Set());
      for (const n of [...fwd, ...rev]) involved.add(n);
      const { fwdIds, revIds, rules } = await this.planRules(fwd, rev, (fIds, rIds) => ({
        to: { reroute: { outPk: rev[1], outRouteId: rIds[1] } },
        from: { reroute: { outPk: fwd[1], outRouteId: fIds[1] } },
      }));
      await this.claim({ ...r, fwd, rev, fwdIds, revIds, repairs: r.repairs + 1 });
      await this.installAll(r.key, rules);
      await Promise.all([r.from, r.to].map((n) => this.links.get(n)!.request({ t: 'switch', routeKey: r.key } satisfies ManagerMessage, this.o.setupTimeoutMs ?? 5000)));
      // The old path's rules on nodes that are still there.
      const old = new Map<string, number[]>();
      const collect = (path: string[], ids: number[]) => {
        for (let i = 1; i < path.length - 1; i++) old.set(path[i], [...(old.get(path[i]) ?? []), ids[i]]);
      };
      collect(r.fwd, r.fwdIds);
      collect(r.rev, r.revIds);
      for (const [n, ids] of old) this.links.get(n)?.send({ t: 'removeIds', ids } satisfies ManagerMessage);
      Object.assign(r, { fwd, rev, fwdIds, revIds, repairs: r.repairs + 1, repairing: false });
      this.routesBroken++;
      this.routesRepaired++;
      log.info('route repaired', { route: r.key, reason, fwd: fwd.map(shortPk), rev: rev.map(shortPk) });
      this.emit('routeRepaired', r.key);
      // Another hop may have died while this repair ran (its break was skipped): check the new paths.
      const alive = (p: string[]) => p.every((n, i) => i === 0 || this.graph.hasEdge(p[i - 1], n));
      if (this.routes.get(r.key) === r && (!alive(fwd) || !alive(rev))) {
        r.repairing = true;
        void this.repair(r, 'a hop of the new path died during the repair');
      }
    } catch (err) {
      if ((err as ControlError).code === 'stale') {
        // Another manager moved this route meanwhile (its record is newer): it is theirs to keep.
        r.repairing = false;
        log.info('route repaired by another node manager meanwhile', { route: r.key });
        return;
      }
      this.strike(err);
      this.dropRoute(r, `${reason}; no repair: ${(err as Error).message}`, involved);
    }
  }

  /** Takes route ids on every hop and builds each node's rules; `ends` gives the two ends' inbound rules. */
  private async planRules(
    fwd: string[],
    rev: string[],
    ends: (fwdIds: number[], revIds: number[]) => { to: EndRule; from: EndRule },
  ): Promise<{ fwdIds: number[]; revIds: number[]; rules: Map<string, InstallRule[]> }> {
    const need = new Map<string, number>();
    for (const n of [...fwd.slice(1), ...rev.slice(1)]) need.set(n, (need.get(n) ?? 0) + 1);
    const granted = new Map<string, number[]>();
    await Promise.all([...need].map(async ([n, count]) => granted.set(n, await this.takeIds(n, count))));
    const take = (n: string) => granted.get(n)!.shift()!;
    const fwdIds = fwd.map((n, i) => (i === 0 ? 0 : take(n)));
    const revIds = rev.map((n, i) => (i === 0 ? 0 : take(n)));
    const rules = new Map<string, InstallRule[]>();
    const add = (n: string, r: InstallRule) => rules.set(n, [...(rules.get(n) ?? []), r]);
    const chain = (path: string[], ids: number[]) => {
      for (let i = 1; i < path.length - 1; i++) {
        add(path[i], { routeId: ids[i], fromPk: path[i - 1], kind: 'intermediary', nextPk: path[i + 1], nextRouteId: ids[i + 1] });
      }
    };
    chain(fwd, fwdIds);
    chain(rev, revIds);
    const e = ends(fwdIds, revIds);
    // Each rule names the neighbour its packets must come from (a node drops them from any other transport).
    add(fwd[fwd.length - 1], { routeId: fwdIds[fwd.length - 1], fromPk: fwd[fwd.length - 2], kind: 'consume', ...e.to });
    add(rev[rev.length - 1], { routeId: revIds[rev.length - 1], fromPk: rev[rev.length - 2], kind: 'consume', ...e.from });
    return { fwdIds, revIds, rules };
  }

  private async installAll(key: string, rules: Map<string, InstallRule[]>): Promise<void> {
    const timeout = this.o.setupTimeoutMs ?? 5000;
    await Promise.all(
      [...rules].map(([n, list]) => {
        const link = this.links.get(n);
        if (!link) throw new HopError(n, 'offline', `node ${shortPk(n)} on the path went offline`);
        return link.request({ t: 'install', routeKey: key, rules: list } satisfies ManagerMessage, timeout).catch(atNode(n));
      }),
    );
  }

  /**
   * Paths both ways, leaving out as intermediates the nodes in `failed` and, while another path exists, the
   * benched ones (a benched node on the only path is still tried: it may be an honest node that came back).
   */
  private findPaths(q: { from: string; to: string; minHops?: number; maxHops: number }, failed: Set<string>): { fwd: string[]; rev: string[] } {
    const find = (avoid: Set<string>) => ({
      fwd: this.graph.findPath({ ...q, avoid }),
      rev: this.graph.findPath({ ...q, from: q.to, to: q.from, avoid }),
    });
    const benched = this.penalties.benched();
    if (!benched.size) return find(failed);
    try {
      return find(new Set([...failed, ...benched]));
    } catch (err) {
      if (!(err instanceof NoPathError)) throw err;
      return find(failed);
    }
  }

  /** A node failed a step of route setup: a strike (an end refusing a port is an answer, not a failure). */
  private strike(err: unknown): string | undefined {
    if (!(err instanceof HopError) || err.code === 'refused') return undefined;
    if (this.penalties.strike(err.node)) log.warn('node benched after failed route setups', { node: shortPk(err.node), reason: err.message });
    return err.node;
  }

  /** Computes, reserves and installs a route; answers the dialer with its key. */
  private async setupRoute(from: string, m: DialMessage): Promise<DialReply> {
    const { to, port, fromPort } = m;
    const minHops = m.minHops ?? undefined;
    const maxHops = m.maxHops ?? this.o.defaultMaxHops ?? 16;
    if (minHops !== undefined && minHops > maxHops) throw new ControlError('min_hops', `min hops ${minHops} is above max hops ${maxHops}`);
    if (!this.links.has(to)) throw new ControlError('offline', `node ${shortPk(to)} is offline (not connected to the node manager)`);
    const limit = this.o.maxRoutesPerNode ?? 4096;
    if ((this.dialed.get(from) ?? 0) >= limit) {
      throw new ControlError('busy', `this node has ${limit} live routes, the most the node manager keeps per node; close some first`);
    }
    const failed = new Set<string>();
    const attempts = Math.max(1, this.o.setupAttempts ?? 2);
    for (let attempt = 1; ; attempt++) {
      let fwd: string[];
      let rev: string[];
      try {
        ({ fwd, rev } = this.findPaths({ from, to, minHops, maxHops }, failed));
      } catch (err) {
        this.routesFailed++;
        if (err instanceof NoPathError) throw new ControlError(err.code, err.message);
        throw err;
      }
      const key = randomBytes(8).toString('hex');
      const involved = new Set([...fwd, ...rev]);
      try {
        // Route ids come from the pools the hops reserved for us; then one install round, both ends included.
        const plan = await this.planRules(fwd, rev, (fIds, rIds) => ({
          to: { end: { outPk: rev[1], outRouteId: rIds[1], remotePk: from, remotePort: fromPort, localPort: port, initiator: false } },
          from: { end: { outPk: fwd[1], outRouteId: fIds[1], remotePk: to, remotePort: port, localPort: fromPort, initiator: true } },
        }));
        const record: RouteRecord = { key, from, to, port, fwd, rev, createdAt: Date.now(), fwdIds: plan.fwdIds, revIds: plan.revIds, minHops, maxHops, repairs: 0, mine: true };
        await this.claim(record);
        await this.installAll(key, plan.rules);
        this.routes.set(key, record);
        this.dialed.set(from, (this.dialed.get(from) ?? 0) + 1);
        this.routesSetUp++;
        log.info('route set up', { route: key, fwd: fwd.map(shortPk), rev: rev.map(shortPk) });
        return { routeKey: key, fwd, rev };
      } catch (err) {
        for (const n of involved) this.links.get(n)?.send({ t: 'remove', routeKey: key, reason: 'route setup failed' } satisfies ManagerMessage);
        void this.shared?.removeRoute(key).catch(() => {});
        const bad = this.strike(err);
        const e = err as ControlError;
        // A failed intermediate: try a path around it (the ends cannot be avoided).
        if (bad && bad !== from && bad !== to && attempt < attempts) {
          log.info('route setup failed at a hop; trying around it', { node: shortPk(bad), reason: e.message });
          failed.add(bad);
          continue;
        }
        this.routesFailed++;
        throw new ControlError(e.code ?? 'error', e.message);
      }
    }
  }

  /**
   * Records a route (new, or its next path) in Redis before any rule is installed: the ids it holds are claimed
   * atomically, so an id a node handed out twice fails here (a strike for that node, and the setup goes around
   * it). With Redis away the route lives in memory and is written when Redis is back.
   */
  private async claim(r: RouteRecord): Promise<void> {
    if (!this.shared) return;
    try {
      if (!(await this.shared.putRoute(toStored(r, this.pkHex)))) throw new ControlError('stale', 'another node manager holds a newer record of this route');
    } catch (err) {
      if (err instanceof IdConflict) throw new HopError(err.node, 'conflict', err.message);
      if (!(err instanceof SharedUnavailable)) throw err;
    }
  }

  /** What node `pk` last reported about its traffic (bytes per transport and per rule). */
  nodeStats(pk: string): NodeStats | undefined {
    return this.stats.get(pk);
  }

  status(): Record<string, unknown> {
    const own = this.ownStatus();
    return this.shared ? sharedStatus(own, this.shared) : own;
  }

  private ownStatus(): Record<string, unknown> & { nodes: string[]; transports: Array<{ a: string; b: string; latencyMs: number }>; routes: Array<RouteView & { repairs: number }> } {
    return {
      pk: this.pkHex,
      listen: this.listener ? formatHostPort(this.listener.address()) : null,
      nodes: this.nodes(),
      transports: this.graph.edges(),
      // A repaired route is listed under a new key per path (key~N) beside its stable routeKey, so a viewer
      // sees the old path end (a break, counted in routesBroken) and the new one start (routesRepaired).
      routes: this.liveRoutes().map((r) => ({ ...r, routeKey: r.key, key: r.repairs ? `${r.key}~${r.repairs}` : r.key })),
      routesSetUp: this.routesSetUp,
      routesFailed: this.routesFailed,
      routesBroken: this.routesBroken,
      routesRepaired: this.routesRepaired,
      routesLost: this.routesLost,
    };
  }
}

function usesEdge(path: string[], a: string, b: string): boolean {
  for (let i = 0; i + 1 < path.length; i++) {
    if ((path[i] === a && path[i + 1] === b) || (path[i] === b && path[i + 1] === a)) return true;
  }
  return false;
}
