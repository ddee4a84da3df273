// Item 1 of issue 17: a key that opened no transport to anyone claimed 0 ms links to A and C, and every new
// route A -> C went through it (installs unanswered, routes dead). Real messenger, manager and nodes (CLI
// processes); the attacker is a fresh key on a control link to the manager.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AppClient } from '../../src/node/sdk/index.js';
import { echoApp, roundTrip, testCluster, waitFor, waitTransports, dialRetry } from '../node/harness.js';
import { connectAttacker } from './attacker.js';

interface Snapshot {
  snapshot: { nodes: Array<{ pk: string; transports: Array<{ peer: string; latencyMs?: number }> }> };
}

async function snapshot(url: string): Promise<Snapshot['snapshot']> {
  const u = new URL(url);
  const res = await fetch(`${u.origin}/api/snapshot?token=${u.searchParams.get('token')}`);
  return ((await res.json()) as Snapshot).snapshot;
}

test('a key with no transports claiming 0 ms links to A and C attracts no route: A -> C goes via B', async (t) => {
  const { c, apps } = testCluster(t);
  const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
  c.messenger = m.info.address;
  const mgr = await c.spawn(['node-manager', '--key', join(c.dir, 'manager.json'), '--messenger', c.messenger, '--web', '127.0.0.1:0', '--json']);
  c.managerPk = mgr.info.pk;
  const a = await c.node();
  const b = await c.node([a.pk]);
  const cc = await c.node([b.pk]);
  await waitTransports(b, [a.pk, cc.pk]);
  apps.push(await echoApp(cc.apiFile));
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  assert.equal((await roundTrip(await dialRetry(client, cc.pk, 7), Buffer.from('before'))).toString(), 'before');
  // The honest links carry measured latencies (> 0 ms) in the manager's graph, so a 0 ms claim would win.
  // The manager has no event for a latency report: poll its dashboard API.
  const measured = (s: Snapshot['snapshot'], x: string, y: string) =>
    (s.nodes.find((n) => n.pk === x)?.transports.find((tr) => tr.peer === y)?.latencyMs ?? 0) > 0;
  await waitFor('measured latencies in the manager', async () => {
    const s = await snapshot(mgr.info.dashboard);
    return measured(s, a.pk, b.pk) && measured(s, b.pk, cc.pk);
  }, 15_000);

  // One attacker on the manager's TCP address, one through the messenger's relay: same claims.
  const evil = await connectAttacker(mgr.info.listen, c.managerPk);
  const relayed = await connectAttacker('', c.managerPk, { viaMessenger: c.messenger });
  t.after(() => [evil, relayed].forEach((e) => e.close()));
  for (const e of [evil, relayed]) {
    await e.sendAndSync({ t: 'hello', transports: [{ pk: a.pk, latencyMs: 0 }, { pk: cc.pk, latencyMs: 0 }] });
    await e.sendAndSync({ t: 'transports', list: [{ pk: a.pk, latencyMs: 0 }, { pk: cc.pk, latencyMs: 0 }] });
  }

  for (let i = 0; i < 4; i++) {
    const sock = await client.dial(cc.pk, 7);
    assert.equal((await roundTrip(sock, Buffer.from(`request ${i}`))).toString(), `request ${i}`);
  }
  for (const e of [evil, relayed]) {
    assert.deepEqual(e.received.filter((x) => x.t === 'install'), [], 'the attacker was asked to carry no route');
  }
  const s = await snapshot(mgr.info.dashboard);
  for (const e of [evil, relayed]) {
    assert.deepEqual(s.nodes.find((n) => n.pk === e.pk)?.transports, [], 'the dashboard shows the attacker, with no links');
  }
});
