// A node that is on paths but does not install its rules: each failure is a strike; the route is set up around
// it at once, a repeat offender is left out of new paths, and the strikes decay so it is tried again later.
// A real manager (in this process, for its short timeouts) and real messenger process; the four "nodes" are
// control links that report mutual transports, one of which (X) never answers an install.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/net/keys.js';
import { NodeManager } from '../../src/nodemanager/manager.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';
import { formatHostPort } from '../../src/util/hostport.js';
import { Cluster, waitFor } from '../node/harness.js';
import { connectAttacker, type Attacker } from './attacker.js';

test('failed installs strike a node: routes go around it, a repeat offender is benched, and it comes back after the decay', async (t) => {
  const c = new Cluster();
  t.after(() => c.stop());
  const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
  const mgr = new NodeManager({
    localKey: generateKeyPair(),
    messengers: [parseMessengerAddress(m.info.address)],
    setupTimeoutMs: 300,
    penalties: { halfLifeMs: 2500 },
  });
  await mgr.start();
  t.after(() => mgr.close());
  const listen = formatHostPort(mgr.listenAddress!);
  const silentOnInstall = (x: { t: string; count?: unknown }) =>
    x.t === 'reserve' ? { ids: Array.from({ length: Number(x.count) }, (_, i) => 1000 + i) } : x.t === 'install' ? undefined : {};
  const [a, b, cc] = await Promise.all([0, 1, 2].map(() => connectAttacker(listen, mgr.pkHex)));
  const x = await connectAttacker(listen, mgr.pkHex, { answer: silentOnInstall });
  t.after(() => [a, b, cc, x].forEach((n) => n.close()));
  // A - B - C (10 ms links) and A - X - C (1 ms links): both two hops, X's path is the faster one.
  const report = async (n: Attacker, peers: Array<[Attacker, number]>) =>
    n.sendAndSync({ t: 'hello', transports: peers.map(([p, latencyMs]) => ({ pk: p.pk, latencyMs })) });
  await report(a, [[b, 10], [x, 1]]);
  await report(b, [[a, 10], [cc, 10]]);
  await report(x, [[a, 1], [cc, 1]]);
  await report(cc, [[b, 10], [x, 1]]);
  const installsAtX = () => x.received.filter((r) => r.t === 'install').length;
  const dial = async () => (await a.request({ t: 'dial', to: cc.pk, port: 7, fromPort: 1 })).fwd as string[];

  // First failure: the route is set up around X in the same request.
  assert.deepEqual(await dial(), [a.pk, b.pk, cc.pk]);
  assert.equal(installsAtX(), 1);
  assert.equal(mgr.penalties.isBenched(x.pk), false, 'one failure does not bench a node');
  // Second failure soon after: X is benched.
  assert.deepEqual(await dial(), [a.pk, b.pk, cc.pk]);
  assert.equal(installsAtX(), 2);
  assert.equal(mgr.penalties.isBenched(x.pk), true);
  // Benched: new routes do not even try it.
  for (let i = 0; i < 3; i++) assert.deepEqual(await dial(), [a.pk, b.pk, cc.pk]);
  assert.equal(installsAtX(), 2);
  assert.equal(mgr.status().routesFailed, 0, 'no dial failed');

  // The strikes decay (half-life 2.5 s here): X is tried again, and a node that still fails is benched again.
  await waitFor('the strikes to decay', () => !mgr.penalties.isBenched(x.pk), 10_000);
  assert.deepEqual(await dial(), [a.pk, b.pk, cc.pk]);
  assert.equal(installsAtX(), 3, 'tried again after the decay');
  assert.equal(mgr.penalties.isBenched(x.pk), true, 'benched again at once after another failure');
});

test('a benched node on the only path is still tried (it may be an honest node that came back)', async (t) => {
  const c = new Cluster();
  t.after(() => c.stop());
  const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
  const mgr = new NodeManager({ localKey: generateKeyPair(), messengers: [parseMessengerAddress(m.info.address)], setupTimeoutMs: 300 });
  await mgr.start();
  t.after(() => mgr.close());
  const listen = formatHostPort(mgr.listenAddress!);
  const [a, b, cc] = await Promise.all([0, 1, 2].map(() => connectAttacker(listen, mgr.pkHex)));
  t.after(() => [a, b, cc].forEach((n) => n.close()));
  await a.sendAndSync({ t: 'hello', transports: [{ pk: b.pk, latencyMs: 1 }] });
  await b.sendAndSync({ t: 'hello', transports: [{ pk: a.pk, latencyMs: 1 }, { pk: cc.pk, latencyMs: 1 }] });
  await cc.sendAndSync({ t: 'hello', transports: [{ pk: b.pk, latencyMs: 1 }] });
  mgr.penalties.strike(b.pk);
  mgr.penalties.strike(b.pk);
  assert.equal(mgr.penalties.isBenched(b.pk), true);
  assert.deepEqual((await a.request({ t: 'dial', to: cc.pk, port: 7, fromPort: 1 })).fwd, [a.pk, b.pk, cc.pk]);
});
