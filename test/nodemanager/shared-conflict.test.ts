// A node that hands out the same route ids to two managers (a liar, or a bug): the atomic claim in Redis catches the
// second use of an id before any rule is installed; the node gets a strike and the setup goes around it. Real
// NodeManagers and a real Redis and messenger; the nodes are simulated over in-memory control links (fake-nodes.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { generateKeyPair } from '../../src/net/keys.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';
import { NodeManager } from '../../src/nodemanager/manager.js';
import { parseRedisUrl } from '../../src/util/redis-url.js';
import { Cluster } from '../node/harness.js';
import { redisSkipReason, startRedis } from '../helpers/redis-server.js';
import { attachFake, idCounter, type FakeNode } from './fake-nodes.js';

const pk = (name: string) => `02${createHash('sha256').update(name).digest('hex')}`;

test('a node handing the same route id to two managers: the second claim fails, the node is struck, the route goes around it', { skip: redisSkipReason(), timeout: 20_000 }, async (t) => {
  const redis = await startRedis();
  const c = new Cluster();
  const managers: NodeManager[] = [];
  t.after(async () => {
    await Promise.all(managers.map((x) => x.close()));
    await c.stop();
    await redis.stop();
  });
  const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
  for (let i = 0; i < 2; i++) {
    managers.push(new NodeManager({ localKey: generateKeyPair(), messengers: [parseMessengerAddress(m.info.address)], redis: { url: parseRedisUrl(redis.url()) } }));
  }
  await Promise.all(managers.map((x) => x.start()));

  // a - x - d (1 ms links) and a - y - d (5 ms): routes prefer x. x answers every manager with ids 1, 2, 3...
  const [a, x, y, d] = ['a', 'x', 'y', 'd'].map(pk) as [string, string, string, string];
  const links: Record<string, Array<{ pk: string; latencyMs: number }>> = {
    [a]: [{ pk: x, latencyMs: 1 }, { pk: y, latencyMs: 5 }],
    [x]: [{ pk: a, latencyMs: 1 }, { pk: d, latencyMs: 1 }],
    [y]: [{ pk: a, latencyMs: 5 }, { pk: d, latencyMs: 5 }],
    [d]: [{ pk: x, latencyMs: 1 }, { pk: y, latencyMs: 5 }],
  };
  const liar = new Map<string, ReturnType<typeof idCounter>>();
  const lying = (count: number, mgr: string) => (liar.get(mgr) ?? liar.set(mgr, idCounter(1)).get(mgr)!)(count, mgr);
  const fakes = new Map<string, FakeNode>();
  for (const n of [a, x, y, d]) {
    const honest = idCounter(1000);
    for (const mgr of managers) fakes.set(n, attachFake(mgr, fakes.get(n) ?? n, links[n]!, n === x ? lying : honest, { record: true }));
  }
  for (const mgr of managers) while (mgr.graph.edges().length < 4) await new Promise((r) => setImmediate(r));

  const dial = (mgr: NodeManager) => fakes.get(a)!.links.get(mgr.pkHex)!.request({ t: 'dial', to: d, port: 7, fromPort: 9 }, 5000);
  const first = await dial(managers[0]!);
  assert.deepEqual(first.fwd, [a, x, d]);
  // The second manager gets ids 1 and 2 from x as well: x already gave them to the first route.
  const second = await dial(managers[1]!);
  assert.deepEqual(second.fwd, [a, y, d], 'the route goes around the node that handed out a used id');
  assert.deepEqual(second.rev, [d, y, a]);
  assert.equal(managers[1]!.penalties.score(x) > 0, true, 'x has a strike');
  assert.deepEqual(
    fakes.get(x)!.received.filter((r) => r.t === 'install' && r.manager === managers[1]!.pkHex),
    [],
    'nothing was installed with the reused ids',
  );
});
