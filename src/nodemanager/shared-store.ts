// The state several node managers share in Redis (`skywire node-manager --redis URL`; docs/control-plane.md, Node
// manager keys): live route records with the route ids they hold on each node (written by one Lua script, so
// claims are atomic), a short lock per route under repair, what each node reported to each manager, and which
// managers are alive. Redis going away never stops a manager: every call fails fast with SharedUnavailable, the
// outage is logged once, and when Redis is back `onRecovered` lets the manager write its state again.
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { shortPk } from '../net/keys.js';
import { createLogger } from '../util/log.js';
import type { RedisUrl } from '../util/redis-url.js';
import { decodeStoredReport, decodeStoredRoute, NODE_GONE_LUA, PUT_ROUTE_LUA, REPORT_LUA, UNLOCK_LUA, type StoredRoute, type TransportReport } from './shared-records.js';

export const DEFAULT_PREFIX = 'sw:nm:';
/** A node's report expires unless the manager linked to it refreshes it (nodes report every 5 s). */
export const NODE_REPORT_TTL_MS = 15_000;
/** A manager is listed as alive while it refreshes this (every MANAGER_BEAT_MS). */
export const MANAGER_TTL_MS = 6_000;
const MANAGER_BEAT_MS = 2_000;
/** A repair lock outlives any repair (setup steps time out after 5 s each). */
export const REPAIR_LOCK_MS = 15_000;
/** A command that takes longer counts as Redis being unavailable. */
const COMMAND_TIMEOUT_MS = 2_000;
/** The shared view (dashboard) is read at most this often, and only while someone looks at it. */
const VIEW_REFRESH_MS = 1_000;
const VIEW_IDLE_MS = 5_000;
/** The view reads at most this many nodes and routes (bounded work and memory, whatever Redis holds). */
export const VIEW_MAX = 5_000;

const log = createLogger('nodemanager');

/** Redis is not reachable now: the caller carries on alone. */
export class SharedUnavailable extends Error {}

/** Another live route holds one of the route ids: `node` handed out an id twice. */
export class IdConflict extends Error {
  constructor(
    readonly node: string,
    readonly id: number,
    readonly holder: string,
  ) {
    super(`node ${shortPk(node)} handed out route id ${id}, which live route ${holder} already holds`);
  }
}

export interface SharedView {
  /** Online nodes (some live manager refreshed its report) and what they reported, merged over managers. */
  nodes: Map<string, TransportReport[]>;
  routes: StoredRoute[];
  managers: string[];
}

type RedisWithScripts = Redis & {
  swPutRoute(prefix: string, key: string, rec: string): Promise<string>;
  swUnlock(key: string, owner: string): Promise<number>;
  swNodeGone(reports: string, index: string, manager: string, node: string): Promise<number>;
  swReport(reports: string, index: string, manager: string, list: string, ttlMs: number, node: string): Promise<number>;
};

/** Node reports are written at most this often per node (nodes report every 5 s, and on every transport change). */
const REPORT_FLUSH_MS = 250;

export class SharedStore extends EventEmitter {
  private readonly redis: RedisWithScripts;
  private readonly p: string;
  private down = false;
  private closed = false;
  private beat: NodeJS.Timeout | undefined;
  private view: SharedView = { nodes: new Map(), routes: [], managers: [] };
  private viewAt = 0;
  private viewWanted = 0;
  private viewLoading: Promise<void> | undefined;
  /** Route keys deleted while Redis was away: deleted when it is back. */
  private readonly pendingDeletes = new Set<string>();
  /** What our nodes last reported, written again after an outage. */
  private readonly reports = new Map<string, TransportReport[]>();
  /** Reports not written yet (coalesced: a node that reports twice before the flush is written once). */
  private readonly dirty = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: { url: RedisUrl; managerPk: string; prefix?: string; listen?: () => string | null },
  ) {
    super();
    this.p = o.prefix ?? DEFAULT_PREFIX;
    this.redis = new Redis({
      host: o.url.host,
      port: o.url.port,
      db: o.url.db,
      lazyConnect: true,
      // Fail at once while disconnected (never queue commands without bound), and keep reconnecting.
      enableOfflineQueue: false,
      // Commands issued in the same tick (many setups at once) leave in one write.
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: COMMAND_TIMEOUT_MS,
      retryStrategy: (n) => Math.min(100 * n, 1000),
    }) as RedisWithScripts;
    this.redis.defineCommand('swPutRoute', { numberOfKeys: 0, lua: PUT_ROUTE_LUA });
    this.redis.defineCommand('swUnlock', { numberOfKeys: 1, lua: UNLOCK_LUA });
    this.redis.defineCommand('swNodeGone', { numberOfKeys: 2, lua: NODE_GONE_LUA });
    this.redis.defineCommand('swReport', { numberOfKeys: 2, lua: REPORT_LUA });
    this.redis.on('error', (err: Error) => this.lost(err.message));
    this.redis.on('close', () => this.lost('connection closed'));
    this.redis.on('ready', () => this.back());
  }

  get where(): string {
    return `redis://${this.o.url.host}:${this.o.url.port}/${this.o.url.db}`;
  }

  get available(): boolean {
    return this.redis.status === 'ready';
  }

  /** Connects (waiting up to a few seconds; a manager starts without Redis and joins when it comes). */
  async start(): Promise<void> {
    const ready = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 3000);
      this.redis.once('ready', () => {
        clearTimeout(t);
        resolve();
      });
    });
    this.redis.connect().catch((err: Error) => this.lost(err.message));
    await ready;
    if (!this.available) this.lost('not reachable at start');
    this.beat = setInterval(() => void this.heartbeat(), MANAGER_BEAT_MS);
    this.beat.unref();
    await this.heartbeat();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.beat);
    clearTimeout(this.flushTimer);
    await this.run(() => this.redis.multi().srem(`${this.p}managers`, this.o.managerPk).del(`${this.p}manager:${this.o.managerPk}`).exec()).catch(() => {});
    this.redis.disconnect();
  }

  private lost(why: string): void {
    if (this.down || this.closed) return;
    this.down = true;
    log.warn('redis unavailable: this node manager carries on alone (its routes kept in memory) until it returns', { redis: this.where, reason: why });
    this.emit('down');
  }

  private back(): void {
    if (!this.down || this.closed) return;
    this.down = false;
    log.warn('redis is back: writing this node manager\'s state there again', { redis: this.where });
    void this.resync().catch((err: Error) => log.warn('writing our state to redis again failed', { redis: this.where, err }));
  }

  /** After an outage: deletes made meanwhile, our nodes' reports, then the manager writes its routes ('recovered'). */
  private async resync(): Promise<void> {
    for (const key of [...this.pendingDeletes]) {
      await this.removeRoute(key);
      this.pendingDeletes.delete(key);
    }
    for (const [pk, list] of this.reports) this.report(pk, list);
    await this.flush();
    await this.heartbeat();
    this.emit('recovered');
  }

  /** Runs a command; a connection problem (not a script's own error) becomes SharedUnavailable. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.available) throw new SharedUnavailable(`redis at ${this.where} is unavailable`);
    try {
      const res = await fn();
      // Back after commands timed out on a connection that stayed open (a Redis that hung, then went on).
      if (this.down) this.back();
      return res;
    } catch (err) {
      if ((err as Error).name === 'ReplyError') throw err;
      this.lost((err as Error).message);
      throw new SharedUnavailable(`redis at ${this.where} is unavailable: ${(err as Error).message}`);
    }
  }

  private async heartbeat(): Promise<void> {
    const me = JSON.stringify({ pk: this.o.managerPk, listen: this.o.listen?.() ?? null, at: Date.now() });
    await this.run(() =>
      this.redis.multi().set(`${this.p}manager:${this.o.managerPk}`, me, 'PX', MANAGER_TTL_MS).sadd(`${this.p}managers`, this.o.managerPk).exec(),
    ).catch(() => {});
  }

  /**
   * Writes a route record, claiming the route ids it holds (atomic, see PUT_ROUTE_LUA). Throws IdConflict when a
   * node handed out an id another live route holds, SharedUnavailable when Redis is away. Returns false when the
   * stored record is newer (another manager repaired the route since).
   */
  async putRoute(r: StoredRoute): Promise<boolean> {
    const res = await this.run(() => this.redis.swPutRoute(this.p, r.key, JSON.stringify(r)));
    if (res === 'ok') return true;
    if (res === 'stale') return false;
    const [, node, id, holder] = res.split(' ');
    throw new IdConflict(node, Number(id), holder);
  }

  /** Deletes a route record and releases its claims; remembered for later while Redis is away. */
  async removeRoute(key: string): Promise<void> {
    try {
      await this.run(() => this.redis.swPutRoute(this.p, key, ''));
      this.pendingDeletes.delete(key);
    } catch (err) {
      if (!(err instanceof SharedUnavailable)) throw err;
      this.pendingDeletes.add(key);
    }
  }

  /** The stored record (null if there is none or it is unreadable). */
  async getRoute(key: string): Promise<StoredRoute | null> {
    const json = await this.run(() => this.redis.get(`${this.p}route:${key}`));
    if (json === null) return null;
    try {
      return decodeStoredRoute(json);
    } catch (err) {
      log.warn('ignoring a route record', { route: key, issue: (err as Error).message });
      return null;
    }
  }

  /** Keys of the live routes through all of `nodes` (one node: through it; two: through both). */
  async routesThrough(nodes: string[]): Promise<string[]> {
    return this.run(() => this.redis.sinter(...nodes.map((n) => `${this.p}via:${n}`)));
  }

  /** Takes the repair lock of a route (false: another manager holds it). */
  async lock(key: string): Promise<boolean> {
    return (await this.run(() => this.redis.set(`${this.p}lock:${key}`, this.o.managerPk, 'PX', REPAIR_LOCK_MS, 'NX'))) === 'OK';
  }

  async unlock(key: string): Promise<void> {
    await this.run(() => this.redis.swUnlock(`${this.p}lock:${key}`, this.o.managerPk)).catch(() => {});
  }

  /** Whether any manager has a fresh report of this node (it is online somewhere). */
  async nodeOnline(pk: string): Promise<boolean> {
    return (await this.run(() => this.redis.exists(`${this.p}node:${pk}`))) === 1;
  }

  /** What node `pk` reported to us (fire and forget: kept locally, written again after an outage). */
  report(pk: string, list: TransportReport[]): void {
    this.reports.set(pk, list);
    this.dirty.add(pk);
    this.flushTimer ??= setTimeout(() => void this.flush(), REPORT_FLUSH_MS);
  }

  /** Writes the reports not written yet; resolves when Redis has them (or is away: they are written on its return). */
  async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = [...this.dirty].flatMap((pk) => {
      this.dirty.delete(pk);
      const list = this.reports.get(pk);
      return list ? [[pk, list] as const] : [];
    });
    await Promise.all(
      batch.map(([pk, list]) =>
        this.run(() => this.redis.swReport(`${this.p}node:${pk}`, `${this.p}nodes`, this.o.managerPk, JSON.stringify(list), NODE_REPORT_TTL_MS, pk)).catch(() => {}),
      ),
    );
  }

  /** Node `pk`'s link to us is gone: our report of it goes (others' reports, if it is linked to them, stay). */
  nodeGone(pk: string): void {
    this.reports.delete(pk);
    this.dirty.delete(pk);
    // A key that connects and leaves (any key can) leaves nothing behind in Redis.
    void this.run(() => this.redis.swNodeGone(`${this.p}node:${pk}`, `${this.p}nodes`, this.o.managerPk, pk)).catch(() => {});
  }

  /**
   * The whole network as all managers see it, for the dashboard: a cached copy, read again in the background at
   * most once a second while someone asks for it (so a manager nobody watches does no such reads).
   */
  sharedView(): SharedView {
    this.viewWanted = Date.now();
    if (!this.viewLoading && Date.now() - this.viewAt >= VIEW_REFRESH_MS && this.available) {
      this.viewLoading = this.loadView()
        .catch((err: Error) => log.debug('reading the shared view failed', { err }))
        .finally(() => {
          this.viewLoading = undefined;
          this.viewAt = Date.now();
        });
    }
    return this.view;
  }

  /** Reads the shared view now (tests and the first dashboard snapshot). */
  async refreshView(): Promise<SharedView> {
    await (this.viewLoading ?? (this.viewLoading = this.loadView().finally(() => (this.viewLoading = undefined))));
    return this.view;
  }

  get viewIdle(): boolean {
    return Date.now() - this.viewWanted > VIEW_IDLE_MS;
  }

  private async loadView(): Promise<void> {
    const p = this.p;
    const [nodeKeys, routeKeys, mgrKeys] = await this.run(() => Promise.all([this.redis.smembers(`${p}nodes`), this.redis.smembers(`${p}routes`), this.redis.smembers(`${p}managers`)]));
    const nodesPipe = this.redis.pipeline();
    const someNodes = nodeKeys.slice(0, VIEW_MAX);
    for (const pk of someNodes) nodesPipe.hgetall(`${p}node:${pk}`);
    const someRoutes = routeKeys.slice(0, VIEW_MAX);
    const [nodeRes, routeJson, mgrJson] = await this.run(() =>
      Promise.all([
        nodesPipe.exec(),
        someRoutes.length ? this.redis.mget(someRoutes.map((k) => `${p}route:${k}`)) : Promise.resolve([]),
        mgrKeys.length ? this.redis.mget(mgrKeys.map((k) => `${p}manager:${k}`)) : Promise.resolve([]),
      ]),
    );
    const nodes = new Map<string, TransportReport[]>();
    const gone: string[] = [];
    someNodes.forEach((pk, i) => {
      const byMgr = (nodeRes?.[i]?.[1] ?? {}) as Record<string, string>;
      const merged = new Map<string, TransportReport>();
      for (const json of Object.values(byMgr).slice(0, 16)) {
        try {
          for (const t of decodeStoredReport(json)) merged.set(t.pk, t);
        } catch (err) {
          log.debug('ignoring a node report', { node: shortPk(pk), issue: (err as Error).message });
        }
      }
      if (Object.keys(byMgr).length) nodes.set(pk, [...merged.values()]);
      else gone.push(pk);
    });
    const routes: StoredRoute[] = [];
    routeJson.forEach((json, i) => {
      if (json === null) return;
      try {
        routes.push(decodeStoredRoute(json));
      } catch (err) {
        log.debug('ignoring a route record', { route: someRoutes[i], issue: (err as Error).message });
      }
    });
    const managers = mgrKeys.filter((_, i) => mgrJson[i] !== null);
    const deadMgrs = mgrKeys.filter((_, i) => mgrJson[i] === null);
    // Tidy the index sets: nodes whose reports all expired, managers whose heartbeat lapsed.
    if (gone.length || deadMgrs.length) {
      const m = this.redis.multi();
      if (gone.length) m.srem(`${p}nodes`, ...gone);
      if (deadMgrs.length) m.srem(`${p}managers`, ...deadMgrs);
      await this.run(() => m.exec()).catch(() => {});
    }
    this.view = { nodes, routes, managers };
    this.emit('view');
  }
}
