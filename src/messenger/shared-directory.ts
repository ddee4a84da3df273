// The registry several messengers share, kept in Redis (`skywire messenger --redis URL`; layout in
// docs/messenger.md, "Shared registry on Redis"). Each messenger writes only the entries of the clients whose
// handshake it saw, and refreshes them (and its own record) on a timer, so a messenger that dies takes its clients
// out of the registry within the TTL. Redis going away never fails a client: calls reject fast (no offline queue,
// a command timeout), the server falls back to its own clients, and the whole live set is written again when
// Redis is back. The state changes are logged once each, never per operation.
// Only the messenger CLI loads this module (it brings ioredis); the server sees the SharedDirectory interface.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createLogger } from '../util/log.js';
import type { RedisUrl } from '../util/redis-url.js';
import { matchesQuery } from './registry.js';
import { checkAnnounce, QUERY_DEFAULT_LIMIT, type Announce, type Entry, type Query } from './types.js';

const log = createLogger('messenger-redis');

/** Where a key is served: its entry and the messengers (public key hex) holding its connection, freshest first. */
export interface Located {
  entry: Entry;
  at: string[];
}

/** What the messenger server needs from a shared registry. */
export interface SharedDirectory {
  /** An id shared by all messengers of this registry (told to clients in HELLO), once Redis was reached. */
  readonly clusterId: string | undefined;
  readonly available: boolean;
  /** Writes (soon, batched) the entry of a client connected here; resolves once written (or given up on). */
  serve(pk: string): Promise<void>;
  /** The client's connection here is gone: others stop forwarding here; its entry lives on for the TTL. */
  unserve(pk: string): void;
  locate(pk: string): Promise<Located | null>;
  query(q: Query): Promise<{ entries: Entry[]; total: number }>;
  /** True when `pk` is a live messenger of this registry (it wrote its record within the TTL). */
  isMessenger(pk: string): Promise<boolean>;
  /** The PK@HOST:PORT addresses a live messenger published. */
  messengerAddresses(pk: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface RedisDirectoryOptions {
  redis: RedisUrl;
  /** This messenger's public key (hex) and the PK@HOST:PORT addresses other messengers dial. */
  self: string;
  addresses: string[];
  /** Entry and messenger-record lifetime without a refresh (they are refreshed every third of it). */
  ttlMs: number;
  /** The entries of the clients connected here now (what a refresh and a resync write). */
  live: () => Iterable<[string, Announce]>;
  /** The entry of one client if it is connected here now (what a registration writes). */
  liveEntry: (pk: string) => Announce | undefined;
  /** Key prefix, default "sw:msg:". */
  prefix?: string;
}

// Writes entries (hash e:PK with the entry JSON, when it was seen, and one "m:MPK" field per serving messenger
// holding the time that messenger's claim expires), then the query indexes (sorted sets scored by expiry).
const UPSERT = `
local p, m, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local exp = now + ttl
for i = 5, #ARGV, 3 do
  local pk = ARGV[i]
  local k = p .. 'e:' .. pk
  redis.call('HSET', k, 'entry', ARGV[i + 1], 'seen', now, 'm:' .. m, exp)
  redis.call('PEXPIRE', k, ttl)
  redis.call('ZADD', p .. 'keys', exp, pk)
  for _, s in ipairs(cjson.decode(ARGV[i + 2])) do redis.call('ZADD', p .. 's:' .. s, exp, pk) end
end
return 0`;

// The client left this messenger: drop its claim here, keep the entry for a full TTL (the grace period).
const UNSERVE = `
local k = ARGV[1] .. 'e:' .. ARGV[3]
redis.call('HDEL', k, 'm:' .. ARGV[2])
local t = redis.call('PTTL', k)
if t >= 0 and t < tonumber(ARGV[4]) then redis.call('PEXPIRE', k, ARGV[4]) end
return 0`;

type Scripted = Redis & {
  swUpsert(...args: Array<string | number>): Promise<number>;
  swUnserve(...args: Array<string | number>): Promise<number>;
};

const BATCH = 500;

export class RedisDirectory implements SharedDirectory {
  clusterId: string | undefined;
  private readonly r: Scripted;
  private readonly p: string;
  private readonly pending = new Map<string, Array<() => void>>();
  private flushing = false;
  private timer?: NodeJS.Timeout;
  /** undefined: not reached yet; then whether the last state change was a loss. */
  private down: boolean | undefined;
  private closed = false;

  constructor(private readonly o: RedisDirectoryOptions) {
    this.p = o.prefix ?? 'sw:msg:';
    this.r = new Redis({
      host: o.redis.host,
      port: o.redis.port,
      db: o.redis.db,
      // Fail fast while Redis is away (the server falls back to its own clients) instead of queueing without bound.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      connectTimeout: 3000,
      retryStrategy: (times) => Math.min(100 * times, 2000),
    }) as Scripted;
    this.r.defineCommand('swUpsert', { numberOfKeys: 0, lua: UPSERT });
    this.r.defineCommand('swUnserve', { numberOfKeys: 0, lua: UNSERVE });
    const where = `${o.redis.host}:${o.redis.port}/${o.redis.db}`;
    this.r.on('ready', () => {
      if (this.down) log.warn('redis is back: re-registering the clients connected here', { redis: where });
      else log.info('connected to redis', { redis: where });
      this.down = false;
      void this.resync();
    });
    const lost = (err?: Error) => {
      if (this.down === true || this.closed) return;
      this.down = true;
      log.warn('redis unavailable: serving the clients connected here only, until it is back', { redis: where, err: err?.message });
    };
    this.r.on('error', lost);
    this.r.on('close', () => lost());
    this.timer = setInterval(() => void this.refresh(), Math.max(100, Math.floor(o.ttlMs / 3)));
    this.timer.unref();
  }

  get available(): boolean {
    return this.r.status === 'ready';
  }

  serve(pk: string): Promise<void> {
    if (!this.available) return Promise.resolve(); // written by the resync when Redis is back
    return new Promise((resolve) => {
      const waiting = this.pending.get(pk);
      if (waiting) waiting.push(resolve);
      else this.pending.set(pk, [resolve]);
      if (this.pending.size === 1 && !this.flushing) setImmediate(() => void this.flushPending());
    });
  }

  unserve(pk: string): void {
    this.pending.delete(pk);
    if (!this.available) return; // the claim expires by itself; a resync writes only live clients
    this.r.swUnserve(this.p, this.o.self, pk, this.o.ttlMs).catch(() => {});
  }

  async locate(pk: string): Promise<Located | null> {
    const h = await this.r.hgetall(`${this.p}e:${pk}`);
    const entry = toEntry(pk, h);
    if (!entry) return null;
    const now = Date.now();
    const at = Object.entries(h)
      .filter(([f, v]) => f.startsWith('m:') && Number(v) > now && /^0[23][0-9a-f]{64}$/.test(f.slice(2)))
      .sort((a, b) => Number(b[1]) - Number(a[1]))
      .map(([f]) => f.slice(2));
    return { entry, at };
  }

  /** Entries matching `q`, ordered by key: the candidates come from the index of the service (or of all keys). */
  async query(q: Query): Promise<{ entries: Entry[]; total: number }> {
    const index = q.service ? `${this.p}s:${q.service}` : `${this.p}keys`;
    const now = Date.now();
    await this.r.zremrangebyscore(index, '-inf', now);
    const keys = (await this.r.zrangebyscore(index, now, '+inf')).sort();
    const offset = q.offset ?? 0;
    const limit = q.limit ?? QUERY_DEFAULT_LIMIT;
    if (!q.service && !q.attr) {
      // Every live key matches: fetch only the page.
      const entries = (await this.entries(keys.slice(offset, offset + limit))).filter((e): e is Entry => e !== null);
      return { entries, total: keys.length };
    }
    const matches: Entry[] = [];
    for (let i = 0; i < keys.length; i += BATCH) {
      for (const e of await this.entries(keys.slice(i, i + BATCH))) if (e && matchesQuery(e, q)) matches.push(e);
    }
    return { entries: matches.slice(offset, offset + limit), total: matches.length };
  }

  async isMessenger(pk: string): Promise<boolean> {
    return pk !== this.o.self && (await this.r.exists(`${this.p}m:${pk}`)) === 1;
  }

  async messengerAddresses(pk: string): Promise<string[]> {
    const v = await this.r.get(`${this.p}m:${pk}`);
    if (!v) return [];
    try {
      const o = JSON.parse(v) as { addresses?: unknown };
      if (!Array.isArray(o.addresses)) return [];
      return o.addresses.filter((a): a is string => typeof a === 'string' && a.length <= 300).slice(0, 16);
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    // Peers stop trusting and dialing us at once; our clients' claims here expire by themselves.
    if (this.available) await this.r.del(`${this.p}m:${this.o.self}`).catch(() => {});
    this.r.disconnect();
  }

  // ---- writing -------------------------------------------------------------------------------------------

  private async entries(keys: string[]): Promise<Array<Entry | null>> {
    if (!keys.length) return [];
    const pipe = this.r.pipeline();
    for (const k of keys) pipe.hmget(`${this.p}e:${k}`, 'entry', 'seen');
    const res = (await pipe.exec()) ?? [];
    return res.map(([err, v], i) => (err ? null : toEntry(keys[i], { entry: (v as string[])[0], seen: (v as string[])[1] })));
  }

  private async flushPending(): Promise<void> {
    if (this.flushing || !this.pending.size) return;
    this.flushing = true;
    const batch = [...this.pending];
    this.pending.clear();
    try {
      if (!this.available) return; // written by the resync when Redis is back
      // One lookup per new client, not a copy of every live client per batch (quadratic at 25,000 clients).
      await this.upsert(
        batch.flatMap(([pk]) => {
          const a = this.o.liveEntry(pk);
          return a ? [[pk, a] as [string, Announce]] : [];
        }),
      );
    } catch (err) {
      log.debug('redis write failed', { err });
    } finally {
      for (const [, waiting] of batch) for (const w of waiting) w();
      this.flushing = false;
      if (this.pending.size) setImmediate(() => void this.flushPending());
    }
  }

  private async upsert(items: Array<[string, Announce]>): Promise<void> {
    for (let i = 0; i < items.length; i += BATCH) {
      const args: Array<string | number> = [this.p, this.o.self, Date.now(), this.o.ttlMs];
      for (const [pk, a] of items.slice(i, i + BATCH)) {
        const names = [...new Set((a.services ?? []).map((s) => s.name))];
        args.push(pk, JSON.stringify({ addresses: a.addresses ?? [], services: a.services ?? [] }), JSON.stringify(names));
      }
      await this.r.swUpsert(...args);
    }
  }

  private refreshing = false;

  /** Our record and every live client's entry, again: each TTL/3, and at once when Redis is (back) up. */
  private async refresh(): Promise<void> {
    if (this.refreshing || !this.available || this.closed) return;
    this.refreshing = true;
    try {
      await this.r.set(`${this.p}m:${this.o.self}`, JSON.stringify({ addresses: this.o.addresses }), 'PX', this.o.ttlMs);
      await this.upsert([...this.o.live()]);
      await this.r.zremrangebyscore(`${this.p}keys`, '-inf', Date.now());
    } catch (err) {
      log.debug('redis refresh failed', { err });
    } finally {
      this.refreshing = false;
    }
  }

  private async resync(): Promise<void> {
    try {
      // One id for the registry: keep the one we knew (Redis may have lost its data), else adopt or create it.
      await this.r.set(`${this.p}cluster`, this.clusterId ?? randomBytes(8).toString('hex'), 'NX');
      const id = await this.r.get(`${this.p}cluster`);
      if (id && /^[0-9a-f]{16}$/.test(id)) this.clusterId = id;
    } catch (err) {
      log.debug('redis cluster id failed', { err });
    }
    await this.refresh();
  }
}

/** An entry read back from Redis, checked like any input (null when missing or malformed). */
function toEntry(pk: string, h: Record<string, string | null | undefined>): Entry | null {
  if (!h.entry) return null;
  let v: unknown;
  try {
    v = JSON.parse(h.entry);
  } catch {
    return null;
  }
  const r = checkAnnounce(v);
  if (!r.ok) return null;
  const seen = Number(h.seen);
  return { pk, addresses: r.value.addresses ?? [], services: r.value.services ?? [], lastSeen: Number.isSafeInteger(seen) ? seen : 0 };
}
