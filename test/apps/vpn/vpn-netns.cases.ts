// The VPN end to end in network namespaces: A (vpn-client) reaches a web server B on the private network
// behind C (vpn-server) only through the tunnel. The tunnel stream is a real TCP connection A -> C
// (the "direct" transport standing in for a mesh route).
import { test } from './offload-mode.js';
import assert from 'node:assert/strict';
import { labSkipReason } from '../../netns/lab.js';
import {
  BLOB_URL,
  C_ON_A_LINK,
  buildVpnLab,
  C_ON_B_LINK,
  curlFromA,
  netSnapshot,
  newKey,
  newPk,
  pingFromA,
  randomFile,
  startClient,
  stoppedCounters,
  uploadFromA,
  startServer,
  VPN_PORT,
} from './topology.js';
import { fileURLToPath } from 'node:url';
import { findAddon } from '../../../src/apps/vpn/tun.js';
import { offloadMode } from './offload-mode.js';

const skip =
  (await labSkipReason({ tun: true, tools: ['curl', 'ping', 'nft', 'sha256sum'] })) ??
  (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');
const UP_CLIENT = /^vpn-client: up on \S+, address (\S+)\/(\d+)/m;
const UP_SERVER = /^vpn-server: up on/m;
const RAW_CLIENT = fileURLToPath(new URL('./raw-client.js', import.meta.url));

test('A reaches the web server behind C only while the VPN is up, and nothing is left afterwards', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const beforeA = await netSnapshot(l.a);
  const beforeC = await netSnapshot(l.c);

  assert.notEqual((await curlFromA(l)).code, 0, 'no path to B before the VPN');
  assert.equal(await pingFromA(l), false);

  const id = newKey(l.stateA);
  const server = startServer(l, [newPk(), id.pk]);
  await server.waitFor(UP_SERVER);
  assert.notEqual((await curlFromA(l)).code, 0, 'the server alone opens no path');

  const client = startClient(l, id);
  const up = await client.waitFor(UP_CLIENT);
  assert.match(up[1], /^10\.99\.0\.\d+$/, 'client got an address from the default pool');
  const hello = await curlFromA(l);
  assert.equal(hello.code, 0, `curl through the VPN failed: ${client.stderr}${server.stderr}`);
  assert.match(hello.body, new RegExp(`hello from behind the vpn-server, you are ${C_ON_B_LINK.replace(/\./g, '\\.')}`), 'B sees C (NAT)');
  assert.equal(await pingFromA(l), true, 'ping through the VPN');

  assert.equal((await client.stop()).code, 0);
  assert.match(client.stdout, /vpn-client: stopped/);
  assert.notEqual((await curlFromA(l)).code, 0, 'no path to B after the client stopped');
  assert.equal(await pingFromA(l), false);
  assert.equal(await netSnapshot(l.a), beforeA, 'client removed its device and routes');

  assert.equal((await server.stop()).code, 0);
  assert.equal(await netSnapshot(l.c), beforeC, 'server removed its device, NAT table and forwarding setting');
});

test('a client whose key is not on the allowlist is refused and gets nothing through', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const beforeA = await netSnapshot(l.a);
  const server = startServer(l, [newPk()]);
  await server.waitFor(UP_SERVER);
  const client = startClient(l, newKey(l.stateA));
  const exit = await client.exited;
  assert.equal(exit.code, 1);
  assert.match(client.stderr, /vpn-client: the vpn-server refused: key [0-9a-f]{8}… is not on this server's allowlist/);
  assert.match(server.stderr, /refused a client whose key is not on the allowlist/);
  assert.notEqual((await curlFromA(l)).code, 0);
  assert.equal(await netSnapshot(l.a), beforeA, 'a refused client leaves nothing behind');
});

test('packets whose source is not the client\'s address are dropped by the server', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const id = newKey(l.stateA);
  const server = startServer(l, [id.pk]);
  await server.waitFor(UP_SERVER);
  const client = startClient(l, id, ['--subnet', '192.168.77.0/24']);
  const up = await client.waitFor(UP_CLIENT);
  assert.equal((await curlFromA(l)).code, 0);
  // A second address on the client's TUN device: packets from it enter the tunnel with a forged source.
  await l.a.run('ip', ['addr', 'add', '10.99.0.77/32', 'dev', 'cvpn0']);
  const spoofed = await curlFromA(l, undefined, ['--interface', '10.99.0.77', '--max-time', '2']);
  assert.notEqual(spoofed.code, 0, 'a forged source gets nothing through');
  await server.waitFor(/spoofed_source.*"source":"10\.99\.0\.77","address":"10\.99\.0\.\d+"/);
  assert.ok(up[1] !== '10.99.0.77');
  assert.equal((await curlFromA(l)).code, 0, 'the client\'s own traffic still flows');
});

test('a crashed server and client are cleaned up on their next start; a lost route is retried', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const beforeA = await netSnapshot(l.a);
  const beforeC = await netSnapshot(l.c);

  const id = newKey(l.stateA);
  let server = startServer(l, [id.pk]);
  await server.waitFor(UP_SERVER);
  let client = startClient(l, id);
  await client.waitFor(UP_CLIENT);
  assert.equal((await curlFromA(l)).code, 0);

  // The route dies mid-session: the client says so and keeps retrying; a new server takes it back.
  await server.stop('SIGKILL');
  await client.waitFor(/route to the vpn-server lost; reconnecting/);
  assert.notEqual(await netSnapshot(l.c), beforeC, 'a killed server leaves its NAT table behind');
  server = startServer(l, [id.pk]);
  await server.waitFor(/undoing network changes left by a previous run/);
  await server.waitFor(UP_SERVER);
  await client.waitFor(/(vpn-client: up on[^\n]*\n[^]*){2}/);
  assert.equal((await curlFromA(l)).code, 0, 'traffic flows again after the reconnect');

  // A killed client leaves the route that pins C outside the tunnel; its next start removes it.
  await client.stop('SIGKILL');
  assert.notEqual(await netSnapshot(l.a), beforeA);
  client = startClient(l, id);
  await client.waitFor(/undoing network changes left by a previous run/);
  await client.waitFor(UP_CLIENT);
  await client.stop();
  await server.stop();
  assert.equal(await netSnapshot(l.a), beforeA);
  assert.equal(await netSnapshot(l.c), beforeC);
});

test('a packet larger than the client\'s MTU gets ICMP "fragmentation needed" with that MTU', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const id = newKey(l.stateA);
  const server = startServer(l, [id.pk], ['--mtu', '1400']);
  await server.waitFor(UP_SERVER);
  const client = startClient(l, id, ['--mtu', '1300', '--subnet', '192.168.77.0/24']);
  const up = await client.waitFor(UP_CLIENT);
  // B sends to the client's tunnel address through C: 1400-byte packets with DF set exceed the client's 1300.
  await l.b.run('ip', ['route', 'add', '10.99.0.0/24', 'via', C_ON_B_LINK]);
  const big = await l.b.exec('ping', ['-c', '1', '-W', '2', '-M', 'do', '-s', '1372', up[1]]);
  assert.match(big.stdout + big.stderr, /Frag needed and DF set \(mtu = 1300\)|mtu ?= ?1300/);
  const small = await l.b.exec('ping', ['-c', '1', '-W', '2', '-M', 'do', '-s', '1200', up[1]]);
  assert.equal(small.code, 0, 'packets within the MTU pass');
});

test('a 20 MB download through the VPN over a link with 50 ms delay and 2% loss arrives intact', { skip }, async (t) => {
  const l = await buildVpnLab({ netemAC: { delayMs: 50, lossPct: 2 }, blobBytes: 20 * 1024 * 1024 });
  t.after(() => l.cleanup());
  const id = newKey(l.stateA);
  const server = startServer(l, [id.pk]);
  await server.waitFor(UP_SERVER);
  const client = startClient(l, id);
  await client.waitFor(UP_CLIENT);
  const started = Date.now();
  const r = await l.a.exec('sh', ['-c', `curl -sS --max-time 100 ${BLOB_URL} | sha256sum`], 110_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split(' ')[0], l.blobSha, 'SHA-256 of what arrived matches what B sent');
  t.diagnostic(`20 MB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('malformed and forged packets are dropped and counted; an exhausted pool is a clear refusal', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const [k1, k2] = [newKey(l.stateA), newKey(l.stateA)];
  // A /30 has exactly one client address.
  const server = startServer(l, [k1.pk, k2.pk], ['--subnet', '10.99.0.0/30']);
  await server.waitFor(UP_SERVER);
  const first = l.a.spawn(process.execPath, [RAW_CLIENT, `${C_ON_A_LINK}:${VPN_PORT}`, l.serverKey.pk, k1.file, '--bad'], { label: 'raw client 1' });
  await first.waitFor(/^assign \{"address":"10\.99\.0\.2","prefixLen":30/m);
  await first.waitFor(/^sent bad packets/m);
  await server.waitFor(/malformed packet from client dropped.*"reason":"truncated","count":1/);
  await server.waitFor(/malformed packet from client dropped.*"reason":"bad_checksum","count":1/);
  await server.waitFor(/not its address dropped.*"reason":"spoofed_source","count":1.*"source":"10\.99\.0\.200"/);

  const second = l.a.spawn(process.execPath, [RAW_CLIENT, `${C_ON_A_LINK}:${VPN_PORT}`, l.serverKey.pk, k2.file], { label: 'raw client 2' });
  await second.waitFor(/^error \{"code":"pool_exhausted","message":"the server has no free address: no free address left in 10\.99\.0\.0\/30/m);
  await second.waitFor(/^closed/m);
  await server.waitFor(/address pool exhausted; refusing a client/);
});

test('a TUN device deleted under a running client makes it exit with a clear error and clean up', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const beforeA = await netSnapshot(l.a);
  const id = newKey(l.stateA);
  const server = startServer(l, [id.pk]);
  await server.waitFor(UP_SERVER);
  const client = startClient(l, id);
  await client.waitFor(UP_CLIENT);
  await l.a.run('ip', ['link', 'del', 'cvpn0']);
  const exit = await client.exited;
  assert.equal(exit.code, 1);
  assert.match(client.stderr, /vpn-client: TUN device cvpn0 failed: /);
  assert.equal(await netSnapshot(l.a), beforeA, 'the pinned route to C is removed too');
});

const iptablesSkip = skip || (await labSkipReason({ tools: ['iptables'] }));

test('with --firewall iptables the NAT and forward rules work and are all removed on exit', { skip: iptablesSkip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const rules = async () =>
    (await l.c.run('iptables', ['-w', '5', '-S'])) + (await l.c.run('iptables', ['-w', '5', '-t', 'nat', '-S']));
  const id = newKey(l.stateA);
  const server = startServer(l, [id.pk], ['--firewall', 'iptables']);
  await server.waitFor(UP_SERVER);
  assert.match(await rules(), /-A POSTROUTING -s 10\.99\.0\.0\/24 ! -o svpn0 .*skywire-vpn:svpn0.* -j MASQUERADE/);
  const client = startClient(l, id);
  await client.waitFor(UP_CLIENT);
  assert.equal((await curlFromA(l)).code, 0);
  await client.stop();
  assert.equal((await server.stop()).code, 0);
  assert.doesNotMatch(await rules(), /skywire-vpn/);
  assert.equal((await l.c.run('cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '0');
});

test('a 5 MB upload arrives intact; with offload on the tunnel carries TCP segments larger than the MTU, off none', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const id = newKey(l.stateA);
  const server = startServer(l, [id.pk], [], { LOG_LEVEL: 'info' });
  await server.waitFor(UP_SERVER);
  const client = startClient(l, id);
  await client.waitFor(UP_CLIENT);
  const { file, sha } = randomFile(l.stateA, 5 * 1024 * 1024);
  assert.equal(await uploadFromA(l, file), sha, 'SHA-256 of what B received matches what A sent');
  assert.equal((await client.stop()).code, 0);
  assert.equal((await server.stop()).code, 0);
  const c = stoppedCounters(server);
  const average = c.bytesIn / c.packetsIn;
  t.diagnostic(`offload ${offloadMode()}: ${c.packetsIn} packets from the client, ${average.toFixed(0)} bytes on average`);
  if (offloadMode() === 'on') assert.ok(average > 1400, `GSO packets cross the tunnel (average ${average} bytes)`);
  else assert.ok(average <= 1400, `no packet over the MTU (average ${average} bytes)`);
});
