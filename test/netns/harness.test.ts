// The namespace lab itself: hosts talk over veth links, netem delay is real, and cleanup leaves nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, labSkipReason, sweepStale } from './lab.js';
import { findAddon } from '../../src/apps/vpn/tun.js';

// Without the netem qdisc the lab shapes links with a relay over TUN devices, which needs the TUN addon.
const skip =
  (await labSkipReason({ tun: true, tools: ['ping', 'tc'] })) ??
  (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');

test('hosts in namespaces reach each other over a link, netem adds delay, cleanup removes everything', { skip }, async (t) => {
  const lab = await Lab.create();
  t.after(() => lab.cleanup());
  const a = await lab.host('a');
  const b = await lab.host('b');
  const c = await lab.host('c');
  await lab.link(a, b, { a: '10.210.0.1/24', b: '10.210.0.2/24', netem: { delayMs: 40 }, netemOn: 'a' });

  const ping = await a.exec('ping', ['-c', '1', '-W', '2', '10.210.0.2']);
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  const rtt = Number(/time=([\d.]+) ms/.exec(ping.stdout)?.[1]);
  assert.ok(rtt >= 40, `netem delay of 40 ms shows in the round trip (${rtt} ms)`);

  // c is not linked to anything: it cannot reach a.
  const unreachable = await c.exec('ping', ['-c', '1', '-W', '1', '10.210.0.1']);
  assert.notEqual(unreachable.code, 0);

  const sleeper = a.spawn('sleep', ['300']);
  await lab.cleanup();
  assert.ok(!sleeper.running, 'processes started in the lab are killed');
  assert.deepEqual(await lab.remaining(), []);
});

test('a sweep removes namespaces left by a run whose process is gone', { skip }, async () => {
  const { execFileSync } = await import('node:child_process');
  // pid 2^22 + 1 is above Linux's pid_max limit, so no live process can own this name.
  const stale = `swt-4194305-0-leftover`;
  execFileSync('ip', ['netns', 'add', stale]);
  const removed = await sweepStale();
  assert.ok(removed.includes(stale));
  const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.ok(!list.includes(stale));
});
