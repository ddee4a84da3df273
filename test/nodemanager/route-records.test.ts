// The manager's table of live routes: only an end may close a route, and one node cannot grow the table
// without bound by dialing and never reporting its routes closed. A real manager (in this process, for its
// limit) and messenger process; the nodes are control links (test/nodemanager/attacker.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/net/keys.js';
import { NodeManager } from '../../src/nodemanager/manager.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';
import { formatHostPort } from '../../src/util/hostport.js';
import { Cluster } from '../node/harness.js';
import { connectAttacker } from './attacker.js';

test('only an end closes a route; a node that never closes its routes hits a per-node limit', async (t) => {
  const c = new Cluster();
  t.after(() => c.stop());
  const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
  const mgr = new NodeManager({ localKey: generateKeyPair(), messengers: [parseMessengerAddress(m.info.address)], maxRoutesPerNode: 3 });
  await mgr.start();
  t.after(() => mgr.close());
  const listen = formatHostPort(mgr.listenAddress!);
  const [a, mid, z] = await Promise.all([0, 1, 2].map(() => connectAttacker(listen, mgr.pkHex)));
  t.after(() => [a, mid, z].forEach((n) => n.close()));
  await a.sendAndSync({ t: 'hello', transports: [{ pk: mid.pk, latencyMs: 1 }] });
  await mid.sendAndSync({ t: 'hello', transports: [{ pk: a.pk, latencyMs: 1 }, { pk: z.pk, latencyMs: 1 }] });
  await z.sendAndSync({ t: 'hello', transports: [{ pk: mid.pk, latencyMs: 1 }] });
  const live = () => (mgr.status().routes as Array<{ routeKey: string }>).map((r) => r.routeKey);
  const dial = async () => String((await a.request({ t: 'dial', to: z.pk, port: 7, fromPort: 1 })).routeKey);

  const first = await dial();
  // The middle node knows the key (its install named it) but is no end: its "closed" is ignored.
  await mid.sendAndSync({ t: 'closed', routeKey: first });
  assert.deepEqual(live(), [first]);
  await z.sendAndSync({ t: 'closed', routeKey: first });
  assert.deepEqual(live(), []);

  const keys = [await dial(), await dial(), await dial()];
  await assert.rejects(dial(), (e: Error & { code: string }) => {
    assert.equal(e.code, 'busy');
    assert.match(e.message, /3 live routes/);
    return true;
  });
  // Another node still dials (the limit is per node).
  assert.ok(String((await z.request({ t: 'dial', to: a.pk, port: 7, fromPort: 1 })).routeKey));
  await a.sendAndSync({ t: 'closed', routeKey: keys[0] });
  assert.ok(await dial(), 'a closed route frees its place');
});
