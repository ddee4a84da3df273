// The VPN endpoints INSIDE the nodes' processes (`skywire node ... --vpn-client` / `--vpn-server`), over a mesh
// route with an intermediate node (A -> R -> C, see buildRelayLab): no vpn-client or vpn-server process, the
// tunnel's packets go from node A's TUN device into the route and out of node C's. curl, ping and SHA-256
// checked transfers both ways; SIGTERM restores both hosts exactly; a SIGKILLed node's leftovers are undone by
// its next start; a key off the allowlist (node R's, sending malformed frames and a HELLO) is refused while
// node C serves on;
// the VPN part failing (its device deleted) ends its node with a clear error and its changes undone.
import { offloadArgs, test } from './offload-mode.js';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { findAddon } from '../../../src/apps/vpn/tun.js';
import { labSkipReason } from '../../netns/lab.js';
import { BLOB_URL, CLI, type RelayLab, buildRelayLab, curlFromA, netSnapshot, pingFromA, randomFile, startRelayMesh, uploadFromA } from './topology.js';

const skip =
  (await labSkipReason({ tun: true, tools: ['curl', 'ping', 'nft', 'sha256sum'] })) ??
  (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');
const UP_CLIENT = /^vpn-client: up on cvpn0, address 10\.99\.0\.\d+\/24/m;
const UP_SERVER = /^vpn-server: up on svpn0/m;
const MESH_RAW_CLIENT = fileURLToPath(new URL('./mesh-raw-client.js', import.meta.url));

/** The mesh with node C running the vpn-server (allowing node A) and node A the vpn-client (split tunnel to B). */
function inNodeMesh(l: RelayLab) {
  return startRelayMesh(l, l.stateA, {
    extraC: (k) => ['--vpn-server', ...offloadArgs(), '--allow', k.pkA, '--state-dir', l.stateC],
    extraA: (k) => ['--vpn-client', k.pkC, ...offloadArgs(), '--hops', '2', '--subnet', '192.168.77.0/24', '--state-dir', l.stateA],
  });
}

/** Bytes node R carried between A and C, both directions summed (its transports' counters). */
async function throughR(l: RelayLab, apiR: string, pkA: string): Promise<number> {
  const { code, stdout, stderr } = await l.r.exec(process.execPath, [CLI, 'node', 'status', '--api-file', apiR, '--json']);
  assert.equal(code, 0, stderr);
  const t = (JSON.parse(stdout) as { transports: Array<{ pk: string; bytesIn: number; bytesOut: number }> }).transports;
  const a = t.find((x) => x.pk === pkA);
  return (a?.bytesIn ?? 0) + (a?.bytesOut ?? 0);
}

test('in-node endpoints over A -> R -> C: curl, ping, SHA-256 both ways, SIGTERM restores both hosts', { skip, timeout: 120_000 }, async (t) => {
  const l = await buildRelayLab({ blobBytes: 8 * 1024 * 1024 });
  t.after(() => l.cleanup());
  const [beforeA, beforeC] = [await netSnapshot(l.a), await netSnapshot(l.c)];
  const mesh = await inNodeMesh(l);
  await mesh.nodeC.waitFor(UP_SERVER, 20_000, 'stdout');
  await mesh.nodeA.waitFor(UP_CLIENT, 60_000, 'stdout');

  // The node lists the VPN as an app on port 44, like a separate vpn-server; nothing else runs beside it.
  const st = await l.c.exec(process.execPath, [CLI, 'node', 'status', '--api-file', mesh.apiC, '--json']);
  assert.deepEqual((JSON.parse(st.stdout) as { apps: unknown[] }).apps, [{ name: 'vpn-server', port: 44 }]);

  // Room for bursts that arrive while the node's thread is busy with the route (netconfig.ts, TUN_TX_QUEUE).
  assert.match(await l.c.run('ip', ['link', 'show', 'svpn0']), /qlen 2000/);
  assert.match(await l.a.run('ip', ['link', 'show', 'cvpn0']), /qlen 2000/);

  const hello = await curlFromA(l);
  assert.equal(hello.code, 0, `${mesh.nodeA.stderr}${mesh.nodeC.stderr}`);
  assert.match(hello.body, /hello from behind the vpn-server, you are 192\.168\.77\.1/, 'B sees C\'s address (NAT)');
  assert.ok(await pingFromA(l), 'ping A -> B through the tunnel');
  const before = await throughR(l, mesh.apiR, mesh.pkA);

  const down = await l.a.exec('sh', ['-c', `curl -sS --max-time 60 ${BLOB_URL} | sha256sum`], 70_000);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(down.stdout.split(' ')[0], l.blobSha, 'download: SHA-256 of what arrived matches what B sent');
  const up = randomFile(l.stateA, 8 * 1024 * 1024);
  assert.equal(await uploadFromA(l, up.file), up.sha, 'upload: SHA-256 B computed matches what A sent');
  assert.ok((await throughR(l, mesh.apiR, mesh.pkA)) - before >= 16 * 1024 * 1024, 'both transfers crossed node R');

  // SIGTERM: each node undoes its VPN's changes (device, addresses, routes, nft, ip_forward) and exits 0.
  assert.equal((await mesh.nodeA.stop()).code, 0, mesh.nodeA.stderr);
  assert.match(mesh.nodeA.stdout, /^vpn-client: stopped, network changes undone$/m);
  assert.equal((await mesh.nodeC.stop()).code, 0, mesh.nodeC.stderr);
  assert.match(mesh.nodeC.stdout, /^vpn-server: stopped, network changes undone$/m);
  assert.equal(await netSnapshot(l.a), beforeA, 'host A exactly as before');
  assert.equal(await netSnapshot(l.c), beforeC, 'host C exactly as before');
  assert.notEqual((await curlFromA(l)).code, 0, 'no path to B without the VPN');
});

test('in-node: a key off the allowlist is refused and node C serves on; a SIGKILLed node C is cleaned up by its next start; a failed VPN part ends its node cleanly', { skip, timeout: 120_000 }, async (t) => {
  const l = await buildRelayLab();
  t.after(() => l.cleanup());
  const [beforeA, beforeC] = [await netSnapshot(l.a), await netSnapshot(l.c)];
  const mesh = await inNodeMesh(l);
  await mesh.nodeC.waitFor(UP_SERVER, 20_000, 'stdout');

  // A stranger: node R's key (authenticated by the mesh), not on C's allowlist, sends what the separate
  // vpn-server refuses; the frames now reach node C's own process, which refuses them the same way and serves on.
  const stranger = l.r.spawn(process.execPath, [MESH_RAW_CLIENT, mesh.apiR, mesh.pkC, '1'], { env: { SIGNAL_CLIENT: 'false' }, label: 'stranger' });
  assert.equal((await stranger.exited).code, 0, stranger.stderr);
  assert.match(stranger.stdout, /^unknown-frame closed$/m);
  assert.match(stranger.stdout, /^null-hello error \{"code":"bad_hello","message":"malformed HELLO frame: /m);
  assert.match(stranger.stdout, new RegExp(`^hello error \\{"code":"not_allowed","message":"key ${mesh.pkR.slice(0, 8)}… is not on this server's allowlist"\\}$`, 'm'));
  assert.doesNotMatch(stranger.stdout, /assign/);
  await mesh.nodeA.waitFor(UP_CLIENT, 60_000, 'stdout');
  assert.equal((await curlFromA(l)).code, 0, 'node C still serves its allowed client');

  // A crash (SIGKILL: no hook runs) leaves C's NAT table and ip_forward; its next start undoes them first.
  await mesh.nodeC.stop('SIGKILL');
  const again = mesh.startNodeC();
  await again.waitFor(UP_SERVER, 20_000, 'stdout');
  assert.match(again.stderr, /undoing network changes left by a previous run/);
  await mesh.nodeA.waitFor(/(?:^vpn-client: up on[^]*){2}/m, 60_000, 'stdout');
  assert.equal((await curlFromA(l)).code, 0, 'the client reconnected to the restarted node C');

  // The VPN part failing (its TUN device deleted under it) ends node A with a clear error, its changes undone.
  await l.a.run('ip', ['link', 'del', 'cvpn0']);
  assert.equal((await mesh.nodeA.exited).code, 1, mesh.nodeA.stderr);
  assert.match(mesh.nodeA.stderr, /vpn-client: TUN device cvpn0 failed: /);
  assert.equal((await again.stop()).code, 0, again.stderr);
  assert.equal(await netSnapshot(l.a), beforeA, 'host A exactly as before');
  assert.equal(await netSnapshot(l.c), beforeC, 'host C exactly as before');
});
