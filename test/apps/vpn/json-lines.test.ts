// vpn-server and vpn-client --json: the up line (and the stopped line) are one JSON object each on stdout, as
// socks-server's and socks-client's ready lines, so scripts need no text parsing. Real TUN devices in the
// netns lab, the tunnel over the direct secure transport (as the other lab tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findAddon } from '../../../src/apps/vpn/tun.js';
import { labSkipReason } from '../../netns/lab.js';
import { C_ON_A_LINK, VPN_PORT, buildVpnLab, newKey, startClient, startServer } from './topology.js';

const skip =
  (await labSkipReason({ tun: true, tools: ['nft'] })) ?? (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');

const jsonLines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('vpn-server and vpn-client --json print their up and stopped lines as JSON objects', { skip, timeout: 60_000 }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const id = newKey(l.stateA);
  const server = startServer(l, [id.pk], ['--json']);
  await server.waitFor(/^\{"type":"ready".*\}$/m, 20_000, 'stdout');
  assert.deepEqual(jsonLines(server.stdout), [
    { type: 'ready', device: 'svpn0', gateway: '10.99.0.1', subnet: '10.99.0.0/24', allowed: 1, pk: l.serverKey.pk, direct: `${C_ON_A_LINK}:${VPN_PORT}` },
  ]);

  const client = startClient(l, id, ['--subnet', '10.71.0.0/16', '--json']);
  await client.waitFor(/^\{"type":"ready".*\}$/m, 20_000, 'stdout');
  const [up] = jsonLines(client.stdout);
  assert.deepEqual(up, { type: 'ready', device: 'cvpn0', address: '10.99.0.2', prefixLen: 24, gateway: '10.99.0.1', mtu: up.mtu, routing: ['10.71.0.0/16'], pk: id.pk });
  assert.equal(typeof up.mtu, 'number');

  assert.equal((await client.stop()).code, 0, client.stderr);
  assert.deepEqual(jsonLines(client.stdout).slice(1), [{ type: 'stopped' }], 'every stdout line is JSON');
  assert.equal((await server.stop()).code, 0, server.stderr);
  assert.deepEqual(jsonLines(server.stdout).slice(1), [{ type: 'stopped' }]);
});
