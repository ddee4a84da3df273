// The VPN's promises over a MESH route with an INTERMEDIATE node (A -> R -> C, see buildRelayLab): the
// allowlist refuses a key the nodes authenticated, forged sources are dropped, a packet over the client's MTU
// gets ICMP "fragmentation needed", and a download over a lossy, slow first hop arrives intact. Node R's
// counters show the tunnel really crossed it.
import { offloadArgs, test } from './offload-mode.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { findAddon } from '../../../src/apps/vpn/tun.js';
import { labSkipReason } from '../../netns/lab.js';
import { BLOB_URL, C_ON_B_LINK, CLI, type RelayLab, buildRelayLab, curlFromA, netSnapshot, newPk, startRelayMesh } from './topology.js';

const skip =
  (await labSkipReason({ tun: true, tools: ['curl', 'ping', 'nft', 'sha256sum'] })) ??
  (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');
const UP_CLIENT = /^vpn-client: up on \S+, address (\S+)\/(\d+)/m;
const env = { SIGNAL_CLIENT: 'false' };

function server(l: RelayLab, dir: string, allow: string, extra: string[] = []) {
  return l.c.spawn(process.execPath, [CLI, 'vpn-server', ...offloadArgs(), '--api-file', join(dir, 'c.api.json'), '--allow', allow, '--state-dir', l.stateC, ...extra], {
    env,
    label: 'vpn-server',
  });
}

function client(l: RelayLab, dir: string, pkC: string, extra: string[] = []) {
  // Split tunnel to B's network: the mesh's own traffic (A to R) stays outside the tunnel.
  const args = ['vpn-client', ...offloadArgs(), pkC, '--api-file', join(dir, 'a.api.json'), '--hops', '2', '--subnet', '192.168.77.0/24', '--state-dir', l.stateA];
  return l.a.spawn(process.execPath, [CLI, ...args, ...extra], { env, label: 'vpn-client' });
}

/** Bytes node R passed from C to A (what it received from C and sent to A: the download direction). */
async function relayed(l: RelayLab, apiR: string, pkA: string, pkC: string): Promise<number> {
  const { code, stdout, stderr } = await l.r.exec(process.execPath, [CLI, 'node', 'status', '--api-file', apiR, '--json']);
  assert.equal(code, 0, stderr);
  const t = (JSON.parse(stdout) as { transports: Array<{ pk: string; bytesIn: number; bytesOut: number }> }).transports;
  const a = t.find((x) => x.pk === pkA);
  const c = t.find((x) => x.pk === pkC);
  return Math.min(a?.bytesOut ?? 0, c?.bytesIn ?? 0);
}

test('over A -> R -> C: a key off the allowlist is refused, forged sources are dropped, the client MTU is enforced', { skip, timeout: 120_000 }, async (t) => {
  const l = await buildRelayLab();
  t.after(() => l.cleanup());
  const dir = l.stateA;
  const { pkA, pkC, apiR } = await startRelayMesh(l, dir);
  const beforeA = await netSnapshot(l.a);

  // Refusal: node A's key (authenticated by the mesh, not claimed by the client) is not on the list.
  let srv = server(l, dir, newPk());
  await srv.waitFor(/^vpn-server: up on/m);
  const refused = client(l, dir, pkC);
  assert.equal((await refused.exited).code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`vpn-client: the vpn-server refused: key ${pkA.slice(0, 8)}… is not on this server's allowlist`));
  assert.match(srv.stderr, new RegExp(`refused a client whose key is not on the allowlist.*"pk":"${pkA.slice(0, 8)}"`));
  assert.notEqual((await curlFromA(l)).code, 0);
  assert.equal(await netSnapshot(l.a), beforeA, 'a refused client leaves nothing behind');
  assert.equal((await srv.stop()).code, 0);

  // Allowed, with a client MTU below the server's.
  srv = server(l, dir, pkA, ['--mtu', '1400']);
  await srv.waitFor(/^vpn-server: up on/m);
  const c = client(l, dir, pkC, ['--mtu', '1300']);
  const up = await c.waitFor(UP_CLIENT, 40_000);
  const before = await relayed(l, apiR, pkA, pkC);
  const hello = await curlFromA(l);
  assert.equal(hello.code, 0, `${c.stderr}${srv.stderr}`);
  assert.match(hello.body, /hello from behind the vpn-server/);
  assert.ok((await relayed(l, apiR, pkA, pkC)) > before, 'the tunnel crossed node R');

  // Anti-spoofing: a second address on the client's device sends with a source the server did not assign.
  await l.a.run('ip', ['addr', 'add', '10.99.0.77/32', 'dev', 'cvpn0']);
  assert.notEqual((await curlFromA(l, undefined, ['--interface', '10.99.0.77', '--max-time', '2'])).code, 0, 'a forged source gets nothing through');
  await srv.waitFor(/spoofed_source.*"source":"10\.99\.0\.77","address":"10\.99\.0\.\d+"/);
  assert.notEqual(up[1], '10.99.0.77');
  assert.equal((await curlFromA(l)).code, 0, 'the client\'s own traffic still flows');

  // MTU: B sends 1400-byte DF packets to the client, whose MTU is 1300: C answers "fragmentation needed".
  await l.b.run('ip', ['route', 'add', '10.99.0.0/24', 'via', C_ON_B_LINK]);
  const big = await l.b.exec('ping', ['-c', '1', '-W', '2', '-M', 'do', '-s', '1372', up[1]]);
  assert.match(big.stdout + big.stderr, /Frag needed and DF set \(mtu = 1300\)|mtu ?= ?1300/);
  const small = await l.b.exec('ping', ['-c', '1', '-W', '5', '-M', 'do', '-s', '1200', up[1]]);
  assert.equal(small.code, 0, 'packets within the MTU pass, over the mesh both ways');

  assert.equal((await c.stop()).code, 0);
  assert.equal((await srv.stop()).code, 0);
  assert.equal(await netSnapshot(l.a), beforeA, 'the client removed its device and routes');
});

test('over A -> R -> C with 50 ms delay and 2% loss on A-R, a 10 MB download arrives intact', { skip, timeout: 150_000 }, async (t) => {
  const l = await buildRelayLab({ netemAR: { delayMs: 50, lossPct: 2 }, blobBytes: 10 * 1024 * 1024 });
  t.after(() => l.cleanup());
  const dir = l.stateA;
  const { pkA, pkC, apiR } = await startRelayMesh(l, dir);
  const srv = server(l, dir, pkA);
  await srv.waitFor(/^vpn-server: up on/m);
  const c = client(l, dir, pkC);
  await c.waitFor(UP_CLIENT, 60_000);
  const started = Date.now();
  const r = await l.a.exec('sh', ['-c', `curl -sS --max-time 100 ${BLOB_URL} | sha256sum`], 110_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split(' ')[0], l.blobSha, 'SHA-256 of what arrived matches what B sent');
  assert.ok((await relayed(l, apiR, pkA, pkC)) >= 10 * 1024 * 1024, 'the download crossed node R');
  t.diagnostic(`10 MB over a 2-hop mesh route with a lossy first hop in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('after node R is killed and restarted, the client reconnects over the new R and a download arrives intact', { skip, timeout: 120_000 }, async (t) => {
  const l = await buildRelayLab({ blobBytes: 5 * 1024 * 1024 });
  t.after(() => l.cleanup());
  const dir = l.stateA;
  const mesh = await startRelayMesh(l, dir);
  const srv = server(l, dir, mesh.pkA);
  await srv.waitFor(/^vpn-server: up on/m);
  const c = client(l, dir, mesh.pkC);
  await c.waitFor(UP_CLIENT, 40_000);
  assert.equal((await curlFromA(l)).code, 0, c.stderr);

  await mesh.nodeR.stop('SIGKILL');
  await c.waitFor(/route to the vpn-server lost; reconnecting/, 30_000);
  await mesh.startNodeR().waitFor(/^\{.*\}$/m, 20_000, 'stdout');
  await c.waitFor(/(?:^vpn-client: up on[^]*){2}/m, 60_000);
  const r = await l.a.exec('sh', ['-c', `curl -sS --max-time 60 ${BLOB_URL} | sha256sum`], 70_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split(' ')[0], l.blobSha, 'SHA-256 of what arrived matches what B sent');
  assert.ok((await relayed(l, mesh.apiR, mesh.pkA, mesh.pkC)) >= 5 * 1024 * 1024, 'the download crossed the restarted node R');
  assert.equal((await c.stop()).code, 0);
});
