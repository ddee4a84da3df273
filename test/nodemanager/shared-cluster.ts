// A control plane of several node managers sharing one real Redis (`skywire node-manager --redis`), each its own
// process, with a messenger and nodes that trust every manager. startControlPlane adds several messengers sharing
// their registry on the same Redis (test/messenger/redis-mesh.ts): the whole control plane of issue 11.
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { AppClient } from '../../src/node/sdk/index.js';
import { Cluster, dialRetry, echoApp, echoOf, waitFor, waitTransports, type Proc } from '../node/harness.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startRedisMesh, type RedisMesh } from '../messenger/redis-mesh.js';
import { decodeStoredRoute, type StoredRoute } from '../../src/nodemanager/shared-records.js';

export interface SharedManager extends Proc {
  pk: string;
  /** The dashboard URL (with its token) when started with `web`. */
  dashboard?: string;
}

export type SharedNode = Proc & { pk: string; apiFile: string; keyFile: string };

export interface SharedControlPlane {
  c: Cluster;
  redis: RedisServer;
  /** A client on the same Redis, for the test to read what the managers wrote. */
  db: Redis;
  managers: SharedManager[];
  /** Messenger addresses (PK@HOST:PORT) every component is given. */
  messengers: string[];
  /** The messengers sharing a registry on Redis, when started by startControlPlane (else one in-memory messenger). */
  mesh?: RedisMesh;
  /**
   * Starts a node trusting `managers` (default: all), keeping transports to `connect`. `on`: the index of the
   * mesh's messenger it registers with (it fails over to the others; default 0).
   */
  node(connect?: string[], o?: { managers?: SharedManager[]; on?: number; extra?: string[]; env?: Record<string, string> }): Promise<SharedNode>;
  /** Every live route record the managers wrote. */
  routes(): Promise<StoredRoute[]>;
}

/**
 * Starts Redis (unless given), a messenger (unless `messengers` are given) and `managers` node managers on it;
 * everything is killed and removed when the test ends.
 */
export async function startSharedControlPlane(
  t: { after(fn: () => Promise<void> | void): void },
  o: { managers?: number; web?: boolean; messengers?: string[]; redis?: RedisServer; mesh?: RedisMesh; managerEnv?: Record<string, string> } = {},
): Promise<SharedControlPlane> {
  const c = new Cluster();
  const mesh = o.mesh;
  const redis = mesh?.redis ?? o.redis ?? (await startRedis());
  const db = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  db.on('error', () => {});
  t.after(async () => {
    db.disconnect();
    await c.stop();
    if (!o.redis && !mesh) await redis.stop();
  });
  await db.connect();
  let messengers = mesh?.order(0) ?? o.messengers ?? [];
  if (!messengers.length) {
    const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
    messengers = [m.info.address];
    c.messenger = m.info.address;
  }
  const managers: SharedManager[] = [];
  for (let i = 0; i < (o.managers ?? 2); i++) {
    const args = ['node-manager', '--key', join(c.dir, `manager${i}.json`), '--redis', redis.url(), '--json'];
    // With several messengers the managers are spread over them (manager i on messenger i mod N).
    for (const m of mesh ? mesh.order(i % mesh.messengers.length) : messengers) args.push('--messenger', m);
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
    mesh,
    async node(connect = [], no = {}) {
      const name = `snode${n++}`;
      const keyFile = join(c.dir, `${name}.json`);
      const args = ['node', '--key', keyFile, '--json'];
      for (const m of mesh ? mesh.order(no.on ?? 0) : messengers) args.push('--messenger', m);
      for (const m of no.managers ?? managers) args.push('--manager', m.pk);
      for (const p of connect) args.push('--connect', p);
      // A shared registry takes a moment to hold an entry (the messenger writes it to Redis): until then a lookup
      // on another messenger finds no address and the node would fall back to a transport relayed by a messenger.
      if (mesh) await waitAnnounced(db, connect);
      const p = await c.spawn([...args, ...(no.extra ?? [])], no.env ?? {});
      return Object.assign(p, { pk: p.info.pk, apiFile: p.info.apiFile, keyFile });
    },
    async routes() {
      const keys = await db.smembers('sw:nm:routes');
      if (!keys.length) return [];
      const json = await db.mget(keys.map((k) => `sw:nm:route:${k}`));
      return json.filter((j): j is string => j !== null).map(decodeStoredRoute);
    },
  };
}

/**
 * Redis, `messengers` messengers sharing their registry on it and `managers` node managers sharing their state
 * on it, each a real process; everything is killed when the test ends. Nodes choose their messenger (`on`).
 */
export async function startControlPlane(
  t: TestContext,
  o: { messengers?: number; managers?: number; web?: boolean; managerEnv?: Record<string, string> } = {},
): Promise<SharedControlPlane & { mesh: RedisMesh }> {
  const mesh = await startRedisMesh(t, { count: o.messengers ?? 2 });
  const cp = await startSharedControlPlane(t, { managers: o.managers, web: o.web, managerEnv: o.managerEnv, mesh });
  return { ...cp, mesh };
}

/** Waits until the shared registry holds an entry with addresses for each of `pks` (docs/messenger.md, Redis keys). */
async function waitAnnounced(db: Redis, pks: string[]): Promise<void> {
  await waitFor(`${pks.length} entries with addresses in the shared registry`, async () => {
    for (const pk of pks) {
      const entry = await db.hget(`sw:msg:e:${pk}`, 'entry');
      if (!entry || !((JSON.parse(entry) as { addresses?: unknown[] }).addresses?.length)) return false;
    }
    return true;
  });
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

/** Nodes a - b - d in a chain, every transport up and reported to every manager. */
export async function startChain(cp: SharedControlPlane): Promise<{ a: SharedNode; b: SharedNode; d: SharedNode }> {
  const a = await cp.node();
  const b = await cp.node([a.pk]);
  const d = await cp.node([b.pk]);
  await waitTransports(b, [a.pk, d.pk]);
  await waitLinked(cp, [a.pk, b.pk, d.pk]);
  await waitEdges(cp, [
    [a.pk, b.pk],
    [b.pk, d.pk],
  ]);
  return { a, b, d };
}

export type DiamondName = 'a' | 'b' | 'm' | 'd';

/** Nodes a - {b, m} - d (two 2-hop paths), every transport up and reported to every manager; `on` as in cp.node. */
export async function startDiamond(
  cp: SharedControlPlane,
  on: Partial<Record<DiamondName, number>> = {},
): Promise<Record<DiamondName, SharedNode>> {
  const a = await cp.node([], { on: on.a });
  const b = await cp.node([a.pk], { on: on.b });
  const m = await cp.node([a.pk], { on: on.m });
  const d = await cp.node([b.pk, m.pk], { on: on.d });
  await waitTransports(a, [b.pk, m.pk]);
  await waitTransports(d, [b.pk, m.pk]);
  await waitLinked(cp, [a.pk, b.pk, m.pk, d.pk]);
  await waitEdges(cp, [
    [a.pk, b.pk],
    [a.pk, m.pk],
    [b.pk, d.pk],
    [m.pk, d.pk],
  ]);
  return { a, b, m, d };
}

/**
 * An echo app on `to` (mesh port 7) and a stream to it from `from`'s app `dialer`, answered `hello`; all closed when
 * the test ends.
 */
export async function echoStream(t: TestContext, from: SharedNode, to: SharedNode, hello = 'hi'): Promise<{ sock: Socket; dialer: AppClient }> {
  const apps: AppClient[] = [await echoApp(to.apiFile)];
  const dialer = await AppClient.connect({ apiFile: from.apiFile, name: 'dialer', port: 9 });
  apps.push(dialer);
  t.after(() => Promise.all(apps.map((x) => x.close())).then(() => {}));
  const sock = await dialRetry(dialer, to.pk, 7);
  t.after(() => sock.destroy());
  assert.equal(await echoOf(sock, hello), hello);
  return { sock, dialer };
}
