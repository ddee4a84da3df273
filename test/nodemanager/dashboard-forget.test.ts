// Item 2 of issue 17: the dashboard kept every key that ever connected (1,500 throwaway keys: snapshot 26 KB ->
// 176 KB, manager +31 MB). Gone nodes are now forgotten after a while and capped, longest gone dropped first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { NetworkTracker } from '../../src/nodemanager/dashboard/model.js';
import { testCluster } from '../node/harness.js';
import { connectAttacker } from './attacker.js';

const key = (i: number) => `02${i.toString(16).padStart(64, '0')}`;

test('the tracker forgets gone nodes after forgetAfterMs and never shows more than maxGone of them', () => {
  const tr = new NetworkTracker({ forgetAfterMs: 60_000, maxGone: 100 });
  const stay = key(99999);
  let now = 1_000_000;
  for (let i = 0; i < 1500; i++) {
    now += 10;
    // Key i is online in one look and gone in the next.
    tr.update({ nodes: [{ pk: stay, online: true, transports: [] }, { pk: key(i), online: true, transports: [] }], routes: [], services: [] }, now);
    const s = tr.update({ nodes: [{ pk: stay, online: true, transports: [] }], routes: [], services: [] }, now + 5);
    const gone = s.nodes.filter((n) => !n.online);
    assert.ok(gone.length <= 100, `${gone.length} gone nodes shown`);
    assert.ok(s.nodes.some((n) => n.pk === stay && n.online), 'an online node is always shown');
    // The longest gone go first: the newest gone node is always there.
    assert.ok(gone.some((n) => n.pk === key(i)));
  }
  const later = tr.update({ nodes: [{ pk: stay, online: true, transports: [] }], routes: [], services: [] }, now + 5 + 60_000);
  assert.deepEqual(later.nodes.map((n) => n.pk), [stay], 'all gone nodes forgotten after forgetAfterMs');
  // A forgotten node that comes back is simply online again.
  const back = tr.update({ nodes: [{ pk: stay, online: true, transports: [] }, { pk: key(1), online: true, transports: [] }], routes: [], services: [] }, now + 60_015);
  assert.equal(back.nodes.length, 2);
});

test('throwaway keys that connect to a real manager and leave are dropped from its dashboard (cap, then forget)', async (t) => {
  const { c } = testCluster(t);
  const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
  c.messenger = m.info.address;
  const mgr = await c.spawn([
    'node-manager', '--key', join(c.dir, 'manager.json'), '--messenger', c.messenger, '--json',
    '--web', '127.0.0.1:0', '--web-forget', '1', '--web-max-gone', '10',
  ]);
  c.managerPk = mgr.info.pk;
  const real = await c.node();
  const u = new URL(mgr.info.dashboard);
  const ws = new WebSocket(`ws://${u.host}/ws?token=${u.searchParams.get('token')}`);
  t.after(() => ws.close());
  type Snap = { type: string; snapshot?: { nodes: Array<{ pk: string; online: boolean }> } };
  const snaps: NonNullable<Snap['snapshot']>[] = [];
  let waiter: (() => void) | undefined;
  ws.on('message', (d) => {
    const msg = JSON.parse(d.toString()) as Snap;
    if (msg.type === 'snapshot' && msg.snapshot) snaps.push(msg.snapshot);
    waiter?.();
  });
  const until = (pred: (s: NonNullable<Snap['snapshot']>) => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (snaps.length && pred(snaps[snaps.length - 1])) {
          waiter = undefined;
          resolve();
        }
      };
      waiter = check;
      check();
    });
  await once(ws, 'open');
  await until((s) => s.nodes.some((n) => n.pk === real.pk && n.online));

  // 60 throwaway keys, 10 at a time: connect, register, leave.
  const seen = new Set<string>();
  for (let round = 0; round < 6; round++) {
    const batch = await Promise.all(Array.from({ length: 10 }, () => connectAttacker(mgr.info.listen, c.managerPk)));
    for (const b of batch) {
      seen.add(b.pk);
      await b.sendAndSync({ t: 'hello', transports: [] });
    }
    // The dashboard looks once a second and on changes: wait until it has seen this batch online, so that a
    // loaded machine cannot let a batch come and go between two looks.
    await until((s) => batch.every((b) => s.nodes.some((n) => n.pk === b.pk && n.online)));
    for (const b of batch) b.close();
  }
  // Every key went (the manager saw all 60 go): then, after the forget interval, none of them is shown.
  await until((s) => s.nodes.filter((n) => seen.has(n.pk)).every((n) => !n.online) && !s.nodes.some((n) => seen.has(n.pk)));
  for (const s of snaps) {
    const gone = s.nodes.filter((n) => !n.online).length;
    assert.ok(gone <= 10, `a snapshot showed ${gone} gone nodes (cap 10)`);
  }
  assert.ok(snaps.some((s) => s.nodes.some((n) => seen.has(n.pk) && !n.online)), 'gone nodes were shown greyed for a while');
  assert.ok(snaps[snaps.length - 1].nodes.some((n) => n.pk === real.pk && n.online), 'the real node is still shown');
});
