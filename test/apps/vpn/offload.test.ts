// The TUN offload path between ends that differ, and against a hostile client (docs/vpn.md, "Offload"):
// a server with offloads serving a client without them segments and checksums in software, both ways intact;
// OFFLOAD_PACKET frames whose fields do not fit their packet, or that the session did not agree to, are dropped
// and counted, and the server goes on; a server's such frames are dropped and counted by the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { labSkipReason } from '../../netns/lab.js';
import { findAddon } from '../../../src/apps/vpn/tun.js';
import {
  BLOB_URL,
  C_ON_A_LINK,
  VPN_PORT,
  CLI,
  buildVpnLab,
  netSnapshot,
  newKey,
  randomFile,
  startClient,
  startServer,
  stoppedCounters,
  uploadFromA,
} from './topology.js';

const skip =
  (await labSkipReason({ tun: true, tools: ['curl', 'nft', 'sha256sum'] })) ??
  (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');
const RAW_CLIENT = fileURLToPath(new URL('./raw-client.js', import.meta.url));
const RAW_SERVER = fileURLToPath(new URL('./raw-server.js', import.meta.url));

test('a server with offloads and a client without: 10 MB each way arrive intact, no packet over the MTU reaches the client', { skip }, async (t) => {
  const l = await buildVpnLab({ blobBytes: 10 * 1024 * 1024 });
  t.after(() => l.cleanup());
  const id = newKey(l.stateA);
  const server = startServer(l, [id.pk], ['--offload', 'on'], { LOG_LEVEL: 'info' });
  await server.waitFor(/^vpn-server: up on/m);
  const client = startClient(l, id, ['--offload', 'off']);
  await client.waitFor(/^vpn-client: up on/m);
  await server.waitFor(/client connected.*"offload":false/);
  const down = await l.a.exec('sh', ['-c', `curl -sS --max-time 60 ${BLOB_URL} | sha256sum`], 70_000);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(down.stdout.split(' ')[0], l.blobSha, 'download: SHA-256 matches');
  const { file, sha } = randomFile(l.stateA, 10 * 1024 * 1024);
  assert.equal(await uploadFromA(l, file), sha, 'upload: SHA-256 matches');
  assert.equal((await client.stop()).code, 0);
  assert.equal((await server.stop()).code, 0);
  const c = stoppedCounters(server);
  // The server's device hands it GSO packets; a client without offloads gets them cut to the MTU.
  assert.ok(c.bytesOut / c.packetsOut <= 1400, `packets to the client within the MTU (${c.bytesOut} bytes in ${c.packetsOut})`);
});

test('OFFLOAD_PACKET frames with fields that do not fit, or unasked for, are dropped and counted; the server goes on', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const [k1, k2, k3] = [newKey(l.stateA), newKey(l.stateA), newKey(l.stateA)];
  const server = startServer(l, [k1.pk, k2.pk, k3.pk], ['--offload', 'on'], { LOG_LEVEL: 'info' });
  await server.waitFor(/^vpn-server: up on/m);
  const raw = (key: { file: string }, mode: string) =>
    l.a.spawn(process.execPath, [RAW_CLIENT, `${C_ON_A_LINK}:${VPN_PORT}`, l.serverKey.pk, key.file, mode], { label: `raw client ${mode}` });
  const bad = raw(k1, '--bad-offload');
  await bad.waitFor(/^assign \{.*"offload":true\}/m);
  await bad.waitFor(/^sent bad offload frames/m);
  await server.waitFor(/malformed packet from client dropped.*"reason":"too_big","count":1/);
  await bad.stop();
  // The session's end logs its counters: 4 frames refused for their fields, 1 for its size, the good one taken.
  const ended = await server.waitFor(/client disconnected.*"packetsIn":(\d+).*"dropped":\{([^}]*)\}/);
  assert.equal(ended[1], '1', 'the well-formed GSO frame was taken');
  assert.match(ended[2], /"bad_offload":4/);
  assert.match(ended[2], /"too_big":1/);

  const unasked = raw(k2, '--offload-unasked');
  await unasked.waitFor(/^assign \{.*"offload":false\}/m);
  await unasked.waitFor(/^sent an unasked offload frame/m);
  await unasked.stop();
  await server.waitFor(/client disconnected.*"packetsIn":0,.*"dropped":\{"bad_offload":1\}/);

  // A real client is still served.
  const client = startClient(l, k3, ['--offload', 'on']);
  await client.waitFor(/^vpn-client: up on/m);
  const hello = await l.a.exec('curl', ['-sS', '--max-time', '8', `http://192.168.77.2:8080/hello`]);
  assert.equal(hello.code, 0, hello.stderr);
  await client.stop();
  assert.equal((await server.stop()).code, 0);
  assert.ok(stoppedCounters(server).packetsIn > 0);
});

test('a server sending OFFLOAD_PACKET frames that do not fit gets them dropped and counted by the client', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const before = await netSnapshot(l.a);
  const assign = '{"address":"10.99.0.2","prefixLen":24,"gateway":"10.99.0.1","mtu":1400,"offload":true}';
  const fake = l.c.spawn(process.execPath, [RAW_SERVER, C_ON_A_LINK, String(VPN_PORT), l.serverKey.file, `assign-offload:${assign}`], { label: 'raw server' });
  await fake.waitFor(/^listening/m);
  const id = newKey(l.stateA);
  const client = l.a.spawn(
    process.execPath,
    [CLI, 'vpn-client', '--offload', 'on', l.serverKey.pk, '--direct', `${C_ON_A_LINK}:${VPN_PORT}`, '--key', id.file, '--subnet', '192.168.77.0/24', '--state-dir', l.stateA],
    { label: 'vpn-client', env: { LOG_LEVEL: 'info' } },
  );
  await client.waitFor(/^vpn-client: up on/m);
  await fake.waitFor(/^sent bad offload frames/m);
  await client.waitFor(/packet from server dropped.*"reason":"too_big"/);
  assert.equal((await client.stop()).code, 0);
  const stopped = /vpn-client stopped.*"packetsIn":(\d+).*"dropped":\{([^}]*)\}/.exec(client.stderr);
  assert.ok(stopped, client.stderr);
  assert.equal(stopped[1], '0', 'nothing reached the TUN device');
  assert.match(stopped[2], /"bad_offload":2/);
  assert.match(stopped[2], /"too_big":1/);
  assert.equal(await netSnapshot(l.a), before, 'nothing left behind');
});
