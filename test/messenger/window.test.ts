// Window sizing of relayed streams (docs/messenger.md, "Window sizing"): a stream's receive window grows under a
// sustained transfer, within the per-stream cap and the connection's budget; and clients and messengers from
// before window sizing (fixed 1 MiB windows) interoperate with new ones in every mix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { RelayStream } from '../../src/messenger/stream.js';
import { farWindowOf } from '../../src/messenger/credit.js';
import { WindowBudget, WindowTuner, windowCapsOf } from '../../src/messenger/window-tuner.js';
import { client, startMessenger, tempDir } from './helpers.js';
import { LEGACY_LIMITS, MiB, inprocMessenger, transfer } from './window-helpers.js';

test('a relayed stream window grows under a sustained transfer and stays within the per-stream cap', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const a = await client(t, [m.address]);
  const b = await client(t, [m.address], { maxWindow: 4 * MiB });
  const r = await transfer(a, b, 1, 48 * MiB);
  assert.equal(r.got, r.sent, 'every byte arrived, in order');
  assert.ok(r.maxWindow > MiB, `the window grew past the initial 1 MiB (largest seen ${r.maxWindow})`);
  assert.ok(r.maxWindow <= 4 * MiB, `the window stayed within the 4 MiB cap (largest seen ${r.maxWindow})`);
});

test('streams on one messenger connection grow within its budget together', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const a = await client(t, [m.address]);
  const b = await client(t, [m.address], { windowBudget: 2 * MiB });
  const streams: RelayStream[] = [];
  let worst = 0;
  const done: Array<Promise<unknown>> = [];
  b.listen(2, (s: Duplex) => {
    const rs = s as RelayStream;
    streams.push(rs);
    s.on('data', () => {
      const extra = streams.reduce((sum, x) => sum + Math.max(0, x.receiveWindow - MiB), 0);
      worst = Math.max(worst, extra);
    });
    done.push(once(s, 'end'));
  });
  const block = Buffer.alloc(256 * 1024, 7);
  await Promise.all(
    [0, 1, 2].map(async () => {
      const s = await a.open(b.pkHex, 2);
      for (let i = 0; i < 96; i++) if (!s.write(block)) await once(s, 'drain');
      s.end();
    }),
  );
  // b's handler runs before it sends ACCEPT, so every open that resolved has its stream here.
  assert.equal(done.length, 3);
  await Promise.all(done);
  assert.ok(worst > 0, 'some stream grew beyond the base window');
  assert.ok(worst <= 2 * MiB, `growth beyond 1 MiB per stream stayed within the 2 MiB budget (largest ${worst})`);
});

test('clients and messengers from before window sizing interoperate with new ones: 4 MB intact in every mix', async (t) => {
  const current = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const older = await inprocMessenger(t, LEGACY_LIMITS);
  for (const [mName, address] of [['new messenger', current.address], ['old messenger', older.address]] as const) {
    const oldC = await client(t, [address], { autotune: false });
    const newC = await client(t, [address]);
    const pairs = [
      ['old -> new', oldC, newC],
      ['new -> old', newC, oldC],
      ['new -> new', newC, newC],
      ['old -> old', oldC, oldC],
    ] as const;
    for (const [i, [pName, from, to]] of pairs.entries()) {
      const r = await transfer(from, to, 10 + i, 4 * MiB);
      assert.equal(r.got, r.sent, `${mName}, ${pName}: SHA-256 of what arrived`);
      if (to === oldC) assert.equal(r.maxWindow, MiB, `${mName}, ${pName}: an old receiver keeps its fixed window`);
      if (address === older.address) assert.ok(r.maxWindow <= MiB, `${mName}, ${pName}: no window past what the messenger allows`);
    }
  }
  assert.equal(older.server.stats().connections, 2, 'the old messenger dropped no client');
});

test('window limits stated by a messenger are checked before use; anything odd means the old 1 MiB', () => {
  const caps = (v: unknown) => windowCapsOf(Buffer.from(JSON.stringify(v)), MiB);
  assert.deepEqual(caps({ limits: { maxWindow: 16 * MiB, baseWindow: MiB, connWindow: 32 * MiB } }), { max: 16 * MiB, base: MiB, extra: 32 * MiB });
  assert.deepEqual(caps({ limits: { maxWindow: MiB, maxData: 65528 } }), { max: MiB, base: MiB, extra: 0 }, 'an old messenger');
  for (const bad of [null, 7, { limits: null }, { limits: { maxWindow: '16777216' } }, { limits: { maxWindow: -1 } }, { limits: { maxWindow: 2 ** 40 } }, { limits: { maxWindow: 1.5 } }]) {
    assert.deepEqual(caps(bad), { max: MiB, base: MiB, extra: 0 }, JSON.stringify(bad));
  }
  assert.deepEqual(windowCapsOf(Buffer.from('{nope'), MiB), { max: MiB, base: MiB, extra: 0 });
  // A base above the maximum is taken as the maximum, and then there is nothing to grow into.
  assert.deepEqual(caps({ limits: { maxWindow: 2 * MiB, baseWindow: 4 * MiB, connWindow: MiB } }), { max: 2 * MiB, base: 2 * MiB, extra: 0 });
  // What another messenger states in PEER: a window below the old one or not an integer is the old one.
  for (const [v, w] of [[{ maxWindow: 16 * MiB }, 16 * MiB], [{}, MiB], [{ maxWindow: 1000 }, MiB], [{ maxWindow: '9' }, MiB], [null, MiB]] as const) {
    assert.equal(farWindowOf(Buffer.from(JSON.stringify(v))), w, JSON.stringify(v));
  }
});

test('a tuned window grows after two measured rounds while the application keeps up, and gives its growth back to the budget', () => {
  const budget = new WindowBudget({ max: 8 * MiB, base: MiB, extra: 4 * MiB }, { max: 16 * MiB, extra: 32 * MiB });
  const w = new WindowTuner(MiB, budget);
  assert.equal(w.senderBlocked(0), 0, 'no growth before two rounds were measured');
  w.took(MiB);
  w.took(MiB);
  assert.equal(w.senderBlocked(MiB), 0, 'no growth while the application lags (a whole window unread)');
  assert.equal(w.senderBlocked(0), MiB, 'doubles after two rounds');
  assert.equal(budget.used, MiB);
  const other = new WindowTuner(MiB, budget);
  other.took(MiB);
  other.took(MiB);
  assert.equal(other.senderBlocked(0), MiB);
  assert.equal(budget.used, 2 * MiB);
  other.release();
  assert.equal(budget.used, MiB, 'a stream that ends gives its growth back');
  assert.equal(new WindowTuner(MiB).senderBlocked(0), 0, 'a fixed window never grows');
});
