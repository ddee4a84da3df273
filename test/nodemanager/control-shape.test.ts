// Item 3 of issue 17: everything a node sends the manager, and everything a browser sends the dashboard, is
// checked for shape. A real messenger, manager (with --web) and nodes from the CLI; the hostile side is a fresh
// key on a control link (test/nodemanager/attacker.ts) and a websocket with the dashboard's token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { AppClient } from '../../src/node/sdk/index.js';
import { dialRetry, echoApp, roundTrip, testCluster, waitFor, waitTransports, type Cluster } from '../node/harness.js';
import { connectAttacker } from './attacker.js';

async function core(c: Cluster) {
  const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
  c.messenger = m.info.address;
  const mgr = await c.spawn(['node-manager', '--key', join(c.dir, 'manager.json'), '--messenger', c.messenger, '--web', '127.0.0.1:0', '--json']);
  c.managerPk = mgr.info.pk;
  return mgr;
}

async function snapshotNodes(url: string): Promise<string[]> {
  const u = new URL(url);
  const res = await fetch(`${u.origin}/api/snapshot?token=${u.searchParams.get('token')}`);
  const body = (await res.json()) as { snapshot: { nodes: Array<{ pk: string; online: boolean }> } };
  return body.snapshot.nodes.filter((n) => n.online).map((n) => n.pk);
}

async function snapshotBytes(url: string, pk: string): Promise<number> {
  const u = new URL(url);
  const res = await fetch(`${u.origin}/api/snapshot?token=${u.searchParams.get('token')}`);
  const body = (await res.json()) as { snapshot: { nodes: Array<{ pk: string; transports: Array<{ bytesIn?: number }> }> } };
  return body.snapshot.nodes.find((n) => n.pk === pk)?.transports.reduce((sum, tr) => sum + (tr.bytesIn ?? 0), 0) ?? 0;
}

const anyPk = '02'.padEnd(66, '0');
const badList = [null, 'x', 5, true, {}, [null], [5], [{ pk: 5 }], [{ pk: 'zz' }], [{ pk: anyPk, latencyMs: 'fast' }], [{ pk: anyPk, latencyMs: -1 }]];
const badPort = [null, [], 'x', -1, 70000, 1.5, {}];
const badHops = [[], 'x', 0, 65, 1.5, {}];
/** Per message type, per field: values of the wrong shape. */
const fields: Record<string, Record<string, unknown[]>> = {
  hello: { transports: badList },
  transports: { list: badList },
  dial: { to: [null, [], 5, {}, 'zz', `02${'g'.repeat(64)}`], port: badPort, fromPort: badPort, minHops: badHops, maxHops: badHops },
  stats: { transports: badList, rules: [null, 'x', 5, {}, [null], [{ id: 'x', kind: 'consume', route: 'r', bytesIn: 0, bytesOut: 0 }]] },
  closed: { routeKey: [null, [], 5, {}, 'k'.repeat(65)] },
};
const valid = (t: string, pk: string): Record<string, unknown> =>
  ({
    hello: { transports: [] },
    transports: { list: [] },
    dial: { to: pk, port: 7, fromPort: 1 },
    stats: { transports: [], rules: [] },
    closed: { routeKey: 'ab' },
  })[t]!;

test('control messages of the wrong shape get a bad_request naming the field; the manager keeps serving', async (t) => {
  const { c, apps } = testCluster(t);
  const mgr = await core(c);
  const a = await c.node();
  const b = await c.node([a.pk]);
  await waitTransports(b, [a.pk]);
  apps.push(await echoApp(b.apiFile));

  const evil = await connectAttacker(mgr.info.listen, c.managerPk);
  t.after(() => evil.close());
  for (const [type, names] of Object.entries(fields)) {
    for (const [field, values] of Object.entries(names)) {
      for (const v of values) {
        const m = { t: type, ...valid(type, b.pk), [field]: v };
        await assert.rejects(evil.request(m), (e: Error & { code: string }) => {
          assert.equal(e.code, 'bad_request', `${JSON.stringify(m)}: ${e.message}`);
          assert.match(e.message, new RegExp(`^bad message "${type}": ${field}`), JSON.stringify(m));
          return true;
        }, JSON.stringify(m));
      }
    }
  }
  await assert.rejects(evil.request({ t: 'nonsense' }), (e: Error & { code: string }) => e.code === 'bad_request');
  // Garbage without an id is dropped quietly, the link stays.
  evil.link.send({ t: 'stats', transports: [null], rules: 5 });
  evil.link.send({ t: 'hello', transports: null });
  await evil.sendAndSync({ t: 'closed', routeKey: [] });
  assert.equal(evil.link.isClosed, false);

  // Frames that are not a message object at all close that link only.
  for (const body of ['null', '[]', '5', '"x"', '{"t":5}', '{']) {
    const raw = await connectAttacker(mgr.info.listen, c.managerPk);
    const closed = once(raw.link, 'close');
    const frame = Buffer.from(body);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(frame.length);
    raw.link.channel.write(Buffer.concat([head, frame]));
    await closed;
  }

  // An attacker whose answer to "reserve" is garbage gets nothing into the manager's pools, and no crash.
  for (const ids of ['abc', null, [0], [1.5], [-1], Array(5000).fill(7), { length: 3 }]) {
    const liar = await connectAttacker(mgr.info.listen, c.managerPk, { answer: (x) => (x.t === 'reserve' ? { ids } : {}) });
    await liar.sendAndSync({ t: 'hello', transports: [] });
    liar.close();
  }

  // The manager still routes, and its dashboard still follows the network (a node that joins now shows up).
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  assert.equal((await roundTrip(await dialRetry(client, b.pk, 7), Buffer.from('still serving'))).toString(), 'still serving');
  // A real node's own stats pass the checks: the dashboard shows its bytes per transport (sent every 2 s).
  await waitFor('real stats on the dashboard', async () => (await snapshotBytes(mgr.info.dashboard, a.pk)) > 0);
  const late = await c.node([a.pk]);
  await waitFor('the new node on the dashboard', async () => (await snapshotNodes(mgr.info.dashboard)).includes(late.pk));
  assert.equal(mgr.child.exitCode, null);
});

test('the dashboard websocket answers any input with an error and keeps pushing snapshots', async (t) => {
  const { c } = testCluster(t);
  const mgr = await core(c);
  const u = new URL(mgr.info.dashboard);
  const ws = new WebSocket(`ws://${u.host}/ws?token=${u.searchParams.get('token')}`);
  t.after(() => ws.close());
  const messages: Array<{ type: string; snapshot?: { nodes: Array<{ pk: string }> } }> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    messages.push(JSON.parse(d.toString()) as (typeof messages)[number]);
    for (const w of waiters.splice(0)) w();
  });
  const next = (pred: (m: (typeof messages)[number]) => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (messages.some(pred) ? resolve() : waiters.push(check));
      check();
    });
  await once(ws, 'open');
  await next((m) => m.type === 'snapshot');
  const inputs = ['null', '[]', '5', '"x"', '{"type":5}', '{"type":"snapshot","snapshot":null}', 'not json'];
  for (const i of inputs) ws.send(i);
  await next(() => messages.filter((m) => m.type === 'error').length === inputs.length);
  assert.equal(ws.readyState, WebSocket.OPEN);
  const node = await c.node();
  await next((m) => m.type === 'snapshot' && !!m.snapshot?.nodes.some((n) => n.pk === node.pk));
});
