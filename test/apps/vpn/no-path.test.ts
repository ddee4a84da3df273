// `vpn-client --hops 1` where no 1-hop route exists (A -> R -> C: the server's node is 2 hops away) gives up
// after --give-up-after with a clear error and a non-zero exit, and leaves A's network as it was, instead of
// retrying forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { findAddon } from '../../../src/apps/vpn/tun.js';
import { labSkipReason } from '../../netns/lab.js';
import { CLI, buildRelayLab, netSnapshot, startRelayMesh } from './topology.js';

const skip =
  (await labSkipReason({ tun: true, tools: ['nft'] })) ?? (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');
const env = { SIGNAL_CLIENT: 'false' };

test('with no route of the asked length the client gives up with a clear error, exit 1, nothing left behind', { skip, timeout: 90_000 }, async (t) => {
  const l = await buildRelayLab();
  t.after(() => l.cleanup());
  const dir = l.stateA;
  const { pkA, pkC } = await startRelayMesh(l, dir);
  const srv = l.c.spawn(process.execPath, [CLI, 'vpn-server', '--api-file', join(dir, 'c.api.json'), '--allow', pkA, '--state-dir', l.stateC], {
    env,
    label: 'vpn-server',
  });
  await srv.waitFor(/^vpn-server: up on/m);
  const beforeA = await netSnapshot(l.a);
  const args = ['vpn-client', pkC, '--api-file', join(dir, 'a.api.json'), '--hops', '1', '--subnet', '192.168.77.0/24', '--state-dir', l.stateA];
  const c = l.a.spawn(process.execPath, [CLI, ...args, '--give-up-after', '4'], { env, label: 'vpn-client' });
  // Bounded only so that a client that never gives up fails this test instead of hanging it.
  await c.waitFor(/vpn-client: gave up/, 30_000, 'stderr');
  const exit = await c.exited;
  assert.equal(exit.code, 1, c.stderr);
  assert.match(
    c.stderr,
    new RegExp(`^vpn-client: gave up: no session with the vpn-server ${pkC.slice(0, 8)}… within 4 s \\(last error: no path from ${pkA.slice(0, 8)} to ${pkC.slice(0, 8)} within 1 hop\\)`, 'm'),
  );
  assert.doesNotMatch(c.stderr, /1 hops/);
  assert.match(c.stderr, /"msg":"cannot reach the vpn-server; retrying".*"attempt":1\b/, 'each retry is logged with its attempt number');
  assert.equal(await netSnapshot(l.a), beforeA, 'nothing left behind');
});
