// A control plane of several node managers sharing one real Redis (`skywire node-manager --redis`), each its own
// process, with a messenger and nodes that trust every manager. Reusable: the final acceptance test combines it with
// several messengers (pass their addresses as `messengers`).
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Cluster, waitFor, type Proc } from '../node/harness.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { decodeStoredRoute, type StoredRoute } from '../../src/nodemanager/shared-records.js';

export interface SharedManager extends Proc {
  pk: string;
  /** The dashboard URL (with its token) when started with `web`. */
  dashboard?: string;
}

export interface SharedControlPlane {
  c: Cluster;
  redis: RedisServer;
  /** A client on the same Redis, for the test to read what the managers wrote. */
  db: Redis;
  managers: SharedManager[];
  /** Messenger addresses (PK@HOST:PORT) every component is given. */
  messengers: string[];
  /** Starts a node trusting `managers` (default: all), keeping transports to `connect`. */
  node(connect?: string[], o?: { managers?: SharedManager[]; extra?: string[]; env?: Record<string, string> }): Promise<Proc & { pk: string; apiFile: string }>;
  /** Every live route record the managers wrote. */
  routes(): Promise<StoredRoute[]>;
}

/**
 * Starts Redis (unless given), a messenger (unless `messengers` are given) and `managers` node managers on it;
 * everything is killed and removed when the test ends.
 */
export async function startSharedControlPlane(
  t: { after(fn: () => Promise<void> | void): void },
  o: { managers?: number; web?: boolean; messengers?: string[]; redis?: RedisServer; managerEnv?: Record<string, string> } = {},
): Promise<SharedControlPlane> {
  const c = new Cluster();
  const redis = o.redis ?? (await startRedis());
  const db = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  db.on('error', () => {});
  t.after(async () => {
    db.disconnect();
    await c.stop();
    if (!o.redis) await redis.stop();
  });
  await db.connect();
  let messengers = o.messengers ?? [];
  if (!messengers.length) {
    const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
    messengers = [m.info.address];
    c.messenger = m.info.address;
  }
  const managers: SharedManager[] = [];
  for (let i = 0; i < (o.managers ?? 2); i++) {
    const args = ['node-manager', '--key', join(c.dir, `manager${i}.json`), '--redis', redis.url(), '--json'];
    for (const m of messengers) args.push('--messenger', m);
    if (o.web) args.push('--web', '127.0.0.1:0');
    const p = await c.spawn(args, o.managerEnv ?? {});
    managers.push(Object.assign(p, { pk: p.info.pk, dashboard: p.info.dashboard }));
  }
  let n = 0;
  return {
    c,
    redis,
    db,
    managers,
    messengers,
    async node(connect = [], no = {}) {
      const name = `snode${n++}`;
      const args = ['node', '--key', join(c.dir, `${name}.json`), '--json'];
      for (const m of messengers) args.push('--messenger', m);
      for (const m of no.managers ?? managers) args.push('--manager', m.pk);
      for (const p of connect) args.push('--connect', p);
      const p = await c.spawn([...args, ...(no.extra ?? [])], no.env ?? {});
      return Object.assign(p, { pk: p.info.pk, apiFile: p.info.apiFile });
    },
    async routes() {
      const keys = await db.smembers('sw:nm:routes');
      if (!keys.length) return [];
      const json = await db.mget(keys.map((k) => `sw:nm:route:${k}`));
      return json.filter((j): j is string => j !== null).map(decodeStoredRoute);
    },
  };
}

/** Waits until every manager has a link to each of `nodes` (each wrote its report of them to Redis). */
export async function waitLinked(cp: SharedControlPlane, nodes: string[], managers = cp.managers): Promise<void> {
  await waitFor(`${nodes.length} nodes linked to ${managers.length} managers`, async () => {
    for (const pk of nodes) {
      const fields = await cp.db.hkeys(`sw:nm:node:${pk}`);
      if (!managers.every((m) => fields.includes(m.pk))) return false;
    }
    return true;
  });
}

/** Waits until every manager's report of `a` lists `b` and the other way round (each manager can route a-b). */
export async function waitEdges(cp: SharedControlPlane, edges: Array<[string, string]>, managers = cp.managers): Promise<void> {
  const has = async (a: string, b: string) => {
    const all = await cp.db.hgetall(`sw:nm:node:${a}`);
    return managers.every((m) => all[m.pk] !== undefined && (JSON.parse(all[m.pk]!) as Array<{ pk: string }>).some((t) => t.pk === b));
  };
  await waitFor(`${edges.length} transports reported to every manager`, async () => {
    for (const [a, b] of edges) if (!(await has(a, b)) || !(await has(b, a))) return false;
    return true;
  });
}
