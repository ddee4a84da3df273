// The Redis side of several node managers, on a real redis-server: the Redis URL, atomic route id claims raced by two
// stores (two managers), record versions, shape checks on what is read back, and an outage (logged once, recovery).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { parseRedisUrl } from '../../src/util/redis-url.js';
import { setLogSink } from '../../src/util/log.js';
import { IdConflict, SharedStore, SharedUnavailable } from '../../src/nodemanager/shared-store.js';
import { decodeStoredRoute, type StoredRoute } from '../../src/nodemanager/shared-records.js';
import { redisSkipReason, startRedis, type RedisServer } from '../helpers/redis-server.js';

const skip = redisSkipReason();
const pk = (n: number) => `02${n.toString(16).padStart(64, '0')}`;
const [A, B, C, D, M1, M2] = [1, 2, 3, 4, 5, 6].map(pk) as [string, string, string, string, string, string];

/** A route a -> b -> d (reverse d -> c -> a) holding id `mid` on the middle hops, `end` at the ends. */
function route(key: string, mid: number, end = mid + 1_000_000, by = M1): StoredRoute {
  return { key, from: A, to: D, port: 7, fwd: [A, B, D], rev: [D, C, A], fwdIds: [0, mid, end], revIds: [0, mid, end], maxHops: 16, repairs: 0, createdAt: Date.now(), by };
}

async function stores(t: { after(fn: () => Promise<void>): void }, redis?: RedisServer) {
  const r = redis ?? (await startRedis());
  const url = parseRedisUrl(r.url());
  const s1 = new SharedStore({ url, managerPk: M1 });
  const s2 = new SharedStore({ url, managerPk: M2 });
  await Promise.all([s1.start(), s2.start()]);
  const db = new Redis({ port: r.port });
  db.on('error', () => {}); // the outage test kills the server under it
  t.after(async () => {
    db.disconnect();
    await Promise.all([s1.close(), s2.close()]);
    if (!redis) await r.stop();
  });
  return { r, s1, s2, db };
}

// parseRedisUrl is shared with the messengers: only what any version of it must do is asserted here.
test('parseRedisUrl takes redis://HOST:PORT/DB and names the URL it refuses', () => {
  assert.deepEqual(parseRedisUrl('redis://10.0.0.5:6380/2'), { host: '10.0.0.5', port: 6380, db: 2 });
  assert.deepEqual(parseRedisUrl('redis://localhost:6379/0'), { host: 'localhost', port: 6379, db: 0 });
  for (const bad of ['localhost:6379', 'http://h:1/0', 'redis://h:99999/0', 'redis://h:1/x']) {
    assert.throws(() => parseRedisUrl(bad), (e: Error) => e.message.includes(bad), bad);
  }
});

test('two managers racing to claim the same route ids on a node: each id goes to exactly one live route', { skip, timeout: 20_000 }, async (t) => {
  const { s1, s2, db } = await stores(t);
  // 200 routes from each manager at once, pairwise on the same ids of node B: a node that handed out each id twice.
  const N = 200;
  const results = await Promise.allSettled(
    Array.from({ length: N }, (_, i) => [s1.putRoute(route(`a${i}`, i + 1)), s2.putRoute(route(`b${i}`, i + 1, i + 2_000_000, M2))]).flat(),
  );
  for (let i = 0; i < N; i++) {
    const [x, y] = [results[2 * i]!, results[2 * i + 1]!];
    const won = [x, y].filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1, `id ${i + 1}: exactly one claim wins`);
    const lost = [x, y].find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(lost.reason instanceof IdConflict, String(lost.reason));
    assert.equal(lost.reason.node, B);
    assert.equal(lost.reason.id, i + 1);
  }
  // Redis holds one claim per id, each by a route that exists, and nothing of the losers.
  const claims = await db.hgetall(`sw:nm:ids:${B}`);
  assert.equal(Object.keys(claims).length, N);
  const keys = new Set(await db.smembers('sw:nm:routes'));
  assert.equal(keys.size, N);
  for (const holder of Object.values(claims)) assert.ok(keys.has(holder));
  assert.equal(await db.scard(`sw:nm:via:${B}`), N);
});

test('a record is versioned by its repairs; deleting it releases its ids; a broken record is refused when read', { skip, timeout: 20_000 }, async (t) => {
  const { s1, s2, db } = await stores(t);
  const r = route('r1', 10);
  assert.equal(await s1.putRoute(r), true);
  // s2 repairs it (new middle ids): the old claims on B are released, the new ones held.
  const repaired = { ...r, fwd: [A, C, D], fwdIds: [0, 11, 12], repairs: 1, by: M2 };
  assert.equal(await s2.putRoute(repaired), true);
  assert.equal(await db.hget(`sw:nm:ids:${B}`, '10'), null);
  assert.equal(await db.hget(`sw:nm:ids:${C}`, '11'), 'r1');
  assert.deepEqual(await s1.routesThrough([C]), ['r1']);
  assert.deepEqual(await s1.routesThrough([B]), []);
  // s1's stale copy (0 repairs) does not overwrite it, nor does s1's own repair to the same version (a race).
  assert.equal(await s1.putRoute(r), false);
  assert.equal(await s1.putRoute({ ...repaired, fwd: [A, B, D], fwdIds: [0, 13, 14], by: M1 }), false);
  assert.equal(await db.hget(`sw:nm:ids:${B}`, '13'), null, 'nothing claimed by the refused write');
  // The writer itself may write its version again (after an outage).
  assert.equal(await s2.putRoute(repaired), true);
  assert.equal((await s1.getRoute('r1'))?.by, M2);
  // Only one manager gets the repair lock.
  assert.deepEqual(await Promise.all([s1.lock('r1'), s2.lock('r1')]).then((x) => x.sort()), [false, true]);
  await s1.removeRoute('r1');
  assert.equal(await s1.getRoute('r1'), null);
  assert.equal(await db.exists(`sw:nm:ids:${C}`, `sw:nm:via:${A}`), 0);
  // What another process wrote is checked before use.
  await db.set('sw:nm:route:bad', JSON.stringify({ ...r, key: 'bad', fwdIds: [0, -1, 5] }));
  assert.equal(await s1.getRoute('bad'), null);
  assert.throws(() => decodeStoredRoute(JSON.stringify({ ...r, fwd: [A, 'x'] })), /fwd holds "x", not a public key/);
  assert.throws(() => decodeStoredRoute(JSON.stringify({ ...r, fwd: [B, D] })), /paths do not join its ends/);
});

test('Redis stopped mid-run: calls fail fast, one log line for the outage, and state written again when it returns', { skip, timeout: 20_000 }, async (t) => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  t.after(() => setLogSink((l) => process.stderr.write(l + '\n')));
  const { r, s1, s2 } = await stores(t);
  await s1.putRoute(route('kept', 20));
  await s1.putRoute(route('closed', 30));
  s1.report(A, [{ pk: B, latencyMs: 3 }]);
  // Both stores (two managers in this process) notice on their own: wait for each, not only s1.
  const down = Promise.all([once(s1, 'down'), once(s2, 'down')]);
  await r.kill();
  await down;
  // Many operations during the outage: each fails at once, none crashes, and the outage is logged once.
  for (let i = 0; i < 50; i++) await assert.rejects(s1.putRoute(route(`x${i}`, 100 + i)), SharedUnavailable);
  await assert.rejects(s1.lock('kept'), SharedUnavailable);
  await s1.removeRoute('closed'); // remembered for later
  s1.report(A, [{ pk: B, latencyMs: 4 }]);
  const unavailable = lines.filter((l) => l.includes('redis unavailable'));
  assert.equal(unavailable.length, 2, `one line per store (two managers in this process), not one per operation: ${unavailable.join('\n')}`);
  assert.match(unavailable[0]!, /carries on alone/);
  // Redis comes back empty (no persistence): the deletion made meanwhile is applied, the node reported again.
  const recovered = Promise.all([once(s1, 'recovered'), once(s2, 'recovered')]);
  await r.restart();
  await recovered;
  assert.equal(lines.filter((l) => l.includes('redis is back')).length, 2, 'one line per store');
  assert.equal(await s1.getRoute('closed'), null);
  await s1.putRoute(route('kept', 20)); // what the manager does on 'recovered'
  assert.equal((await s2.getRoute('kept'))?.key, 'kept');
  assert.deepEqual((await s2.refreshView()).nodes.get(A), [{ pk: B, latencyMs: 4 }]);
});
