// Redis stopped under two running node manager processes: they keep setting up routes alone, say so once each (not
// per operation), and when Redis comes back (empty: no persistence) they write their live routes and node reports
// there again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { AppClient } from '../../src/node/sdk/index.js';
import { redisSkipReason } from '../helpers/redis-server.js';
import { dialRetry, echoApp, echoOf, waitFor } from '../node/harness.js';
import { startChain, startSharedControlPlane, waitLinked } from './shared-cluster.js';

const skip = redisSkipReason();

test('Redis stopped mid-run: no crash, one clear log line per manager, routes still set up, state written again on return', { skip, timeout: 30_000 }, async (t) => {
  const cp = await startSharedControlPlane(t, { managers: 2 });
  const { a, b, d } = await startChain(cp);
  const apps: AppClient[] = [await echoApp(d.apiFile)];
  const dialer = await AppClient.connect({ apiFile: a.apiFile, name: 'dialer', port: 9 });
  apps.push(dialer);
  t.after(() => Promise.all(apps.map((x) => x.close())).then(() => {}));
  const socks: Socket[] = [];
  t.after(() => socks.forEach((s) => s.destroy()));
  const open = async () => {
    const s = await dialRetry(dialer, d.pk, 7);
    socks.push(s);
    assert.equal(await echoOf(s, `hi ${socks.length}`), `hi ${socks.length}`);
  };
  await open();
  assert.equal((await cp.routes()).length, 1);

  await cp.redis.kill();
  // Ten setups while Redis is away: every one works (each manager alone), none crashes a manager.
  for (let i = 0; i < 10; i++) await open();
  for (const mgr of cp.managers) {
    assert.equal(mgr.child.exitCode, null, 'the manager runs on');
    const lines = mgr.stderr().split('\n').filter((l) => l.includes('redis unavailable'));
    assert.equal(lines.length, 1, `one line for the outage, not one per operation:\n${mgr.stderr()}`);
    assert.match(lines[0]!, /carries on alone/);
    assert.match(lines[0]!, new RegExp(`redis://127\\.0\\.0\\.1:${cp.redis.port}/0`));
  }

  await cp.redis.restart();
  await cp.db.ping().catch(() => {});
  for (const mgr of cp.managers) await waitFor('"redis is back" in the log', () => mgr.stderr().includes('redis is back'));
  // Back from empty: all eleven live routes and the three nodes are there again, without a restart of anything.
  await waitFor('the live routes written again', async () => (await cp.routes()).length === socks.length);
  await waitLinked(cp, [a.pk, b.pk, d.pk]);
  for (const s of socks) assert.equal(await echoOf(s, 'still'), 'still');
  for (const mgr of cp.managers) assert.equal(mgr.stderr().split('\n').filter((l) => l.includes('redis unavailable')).length, 1);
});
