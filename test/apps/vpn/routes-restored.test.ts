// A route the client replaces is put back as it was when the client stops: a split-tunnel subnet that
// already had a route, and the /32 routes a full tunnel pins for its underlay and --exclude addresses
// when the host already had exactly those routes (the usual case for a node's peers). Losing them cut
// the host off from its peers, and the next client could not reach its server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findAddon } from '../../../src/apps/vpn/tun.js';
import { labSkipReason } from '../../netns/lab.js';
import { C_ON_A_LINK, CLI, type VpnLab, buildVpnLab, netSnapshot, newKey, startClient, startServer } from './topology.js';

const skip =
  (await labSkipReason({ tun: true, tools: ['curl', 'ping', 'nft'] })) ??
  (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');
const UP_CLIENT = /^vpn-client: up on \S+, address (\S+)\/(\d+)/m;
const UP_SERVER = /^vpn-server: up on/m;

const routeTo = async (l: VpnLab, cidr: string): Promise<string> => (await l.a.run('ip', ['-4', 'route', 'show', 'exact', cidr])).trim();

test('a subnet route that existed before --subnet is restored when the client stops', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  await l.a.run('ip', ['route', 'add', '10.71.3.0/24', 'via', C_ON_A_LINK, 'dev', 'v-c']);
  const before = await netSnapshot(l.a);
  const id = newKey(l.stateA);
  const server = startServer(l, [id.pk]);
  await server.waitFor(UP_SERVER);

  const client = startClient(l, id, ['--subnet', '10.71.3.0/24']);
  await client.waitFor(UP_CLIENT);
  assert.match(await routeTo(l, '10.71.3.0/24'), /dev cvpn0/, 'while up, the subnet goes through the tunnel');
  assert.equal((await client.stop()).code, 0, client.stderr);
  assert.equal(await routeTo(l, '10.71.3.0/24'), `10.71.3.0/24 via ${C_ON_A_LINK} dev v-c`, 'the previous route is back');
  assert.equal(await netSnapshot(l.a), before, 'A is exactly as before');

  // Killed outright, the client cannot undo anything: its next start restores the route from the journal.
  const killed = startClient(l, id, ['--subnet', '10.71.3.0/24']);
  await killed.waitFor(UP_CLIENT);
  await killed.stop('SIGKILL');
  assert.equal(await routeTo(l, '10.71.3.0/24'), '', 'the kernel took our route away with the device');
  const next = startClient(l, id, ['--subnet', '10.71.3.0/24']);
  await next.waitFor(/undoing network changes left by a previous run/);
  await next.waitFor(UP_CLIENT);
  assert.equal((await next.stop()).code, 0, next.stderr);
  assert.equal(await netSnapshot(l.a), before, 'A is exactly as before after a crash and the next run');
});

test('pre-existing /32 routes to the server and to --exclude peers survive a full tunnel; the next client still connects', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  // The server listens on an address A reaches only through a /32 route (as a node reaches its peers).
  const serverIp = '10.72.0.1';
  await l.c.run('ip', ['addr', 'add', `${serverIp}/32`, 'dev', 'lo']);
  await l.a.run('ip', ['route', 'add', `${serverIp}/32`, 'via', C_ON_A_LINK, 'dev', 'v-c']);
  await l.a.run('ip', ['route', 'add', '10.72.0.9/32', 'via', C_ON_A_LINK, 'dev', 'v-c']);
  const before = await netSnapshot(l.a);
  const id = newKey(l.stateA);
  const server = l.c.spawn(
    process.execPath,
    [CLI, 'vpn-server', '--direct-listen', `${serverIp}:7044`, '--key', l.serverKey.file, '--allow', id.pk, '--state-dir', l.stateC],
    { label: 'vpn-server' },
  );
  await server.waitFor(UP_SERVER);
  const client = () =>
    l.a.spawn(
      process.execPath,
      [CLI, 'vpn-client', l.serverKey.pk, '--direct', `${serverIp}:7044`, '--key', id.file, '--exclude', '10.72.0.9', '--state-dir', l.stateA],
      { label: 'vpn-client' },
    );

  const first = client();
  await first.waitFor(UP_CLIENT);
  assert.match(await routeTo(l, '0.0.0.0/1'), /dev cvpn0/, 'a full tunnel while up');
  assert.equal((await first.stop()).code, 0, first.stderr);
  assert.equal(await routeTo(l, `${serverIp}/32`), `${serverIp} via ${C_ON_A_LINK} dev v-c`, 'the route to the server is still there');
  assert.equal(await routeTo(l, '10.72.0.9/32'), `10.72.0.9 via ${C_ON_A_LINK} dev v-c`, 'the route to the excluded peer is still there');
  assert.equal(await netSnapshot(l.a), before, 'A is exactly as before');

  const second = client();
  await second.waitFor(UP_CLIENT, 15_000);
  assert.equal((await second.stop()).code, 0, second.stderr);
  assert.equal(await netSnapshot(l.a), before, 'and again after the second client');
});
