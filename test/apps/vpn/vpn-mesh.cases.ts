// The VPN on real Skywire nodes: a messenger, a node manager and node C in namespace C (with the
// vpn-server), node A in namespace A (with the vpn-client). The tunnel runs over a mesh route A -> C,
// and A reaches the web server B behind C with curl and ping, routing all its traffic through the VPN
// except the path to its own transports (--exclude C's address); and what happens when the nodes stop.
import { offloadArgs, test } from './offload-mode.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { findAddon } from '../../../src/apps/vpn/tun.js';
import { labSkipReason } from '../../netns/lab.js';
import { buildVpnLab, C_ON_A_LINK, CLI, curlFromA, netSnapshot, pingFromA, startMesh } from './topology.js';

const skip =
  (await labSkipReason({ tun: true, tools: ['curl', 'ping', 'nft'] })) ??
  (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');

test('vpn-client on node A reaches the network behind node C over a mesh route', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const dir = l.stateA; // a temp dir removed with the lab
  const env = { SIGNAL_CLIENT: 'false' };
  const { pkA, pkC, nodeA, nodeC } = await startMesh(l, dir);

  const beforeA = await netSnapshot(l.a);
  const beforeC = await netSnapshot(l.c);
  const server = l.c.spawn(
    process.execPath,
    [CLI, 'vpn-server', ...offloadArgs(), '--api-file', join(dir, 'c.api.json'), '--allow', pkA, '--state-dir', join(dir, 'state-c')],
    { env, label: 'vpn-server' },
  );
  await server.waitFor(/^vpn-server: up on/m);
  assert.notEqual((await curlFromA(l)).code, 0, 'no path to B before the client is up');

  const client = l.a.spawn(
    process.execPath,
    [CLI, 'vpn-client', ...offloadArgs(), pkC, '--api-file', join(dir, 'a.api.json'), '--hops', '1', '--exclude', C_ON_A_LINK, '--state-dir', join(dir, 'state-a')],
    { env, label: 'vpn-client' },
  );
  // The manager learns of the A-C transport when the nodes report it; until then the client retries.
  await client.waitFor(/^vpn-client: up on cvpn0, address 10\.99\.0\.\d+\/24/m, 40_000);
  const hello = await curlFromA(l);
  assert.equal(hello.code, 0, `curl through the VPN over the mesh failed: ${client.stderr}`);
  assert.match(hello.body, /hello from behind the vpn-server/);
  assert.equal(await pingFromA(l), true);

  assert.equal((await client.stop()).code, 0);
  assert.notEqual((await curlFromA(l)).code, 0, 'no path to B after the client stopped');
  assert.equal(await netSnapshot(l.a), beforeA, 'client removed its device and routes');

  // "auto" finds the server through the vpn service it announced.
  const auto = l.a.spawn(
    process.execPath,
    [CLI, 'vpn-client', ...offloadArgs(), 'auto', '--api-file', join(dir, 'a.api.json'), '--subnet', '192.168.77.0/24', '--state-dir', join(dir, 'state-a')],
    { env, label: 'vpn-client auto' },
  );
  await auto.waitFor(/^vpn-client: up on cvpn0, address 10\.99\.0\.\d+\/24,.* routing 192\.168\.77\.0\/24/m, 40_000);
  assert.equal((await curlFromA(l)).code, 0, `curl through the auto-selected server failed: ${auto.stderr}`);
  assert.equal((await auto.stop()).code, 0);
  assert.equal(await netSnapshot(l.a), beforeA);

  // When its node goes away the client cannot reach anything any more: it says so, exits and cleans up.
  const orphan = l.a.spawn(
    process.execPath,
    [CLI, 'vpn-client', ...offloadArgs(), pkC, '--api-file', join(dir, 'a.api.json'), '--subnet', '192.168.77.0/24', '--state-dir', join(dir, 'state-a')],
    { env, label: 'vpn-client' },
  );
  await orphan.waitFor(/^vpn-client: up on/m, 40_000);
  await nodeA.stop();
  assert.equal((await orphan.exited).code, 1);
  assert.match(orphan.stderr, /vpn-client: lost the connection to the node/);
  assert.equal(await netSnapshot(l.a), beforeA);

  // The same for the server when node C stops: it notices within seconds, exits and undoes its changes.
  await nodeC.stop();
  assert.equal((await server.exited).code, 1);
  assert.match(server.stderr, /vpn-server: lost the connection to the node/);
  assert.equal(await netSnapshot(l.c), beforeC);
});
