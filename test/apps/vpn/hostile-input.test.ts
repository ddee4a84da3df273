// What a VPN peer or a careless option can do, with the real commands in network namespaces: a bare
// "--direct-listen :PORT" listens on loopback only; HELLOs that are null, arrays or mistyped get a clear
// refusal and the server goes on; ASSIGN and ERROR frames that are malformed (or try to smuggle arguments
// into `ip`, or terminal escapes into the user's screen) change nothing on the client's machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { labSkipReason } from '../../netns/lab.js';
import { findAddon } from '../../../src/apps/vpn/tun.js';
import { C_ON_A_LINK, CLI, VPN_PORT, buildVpnLab, netSnapshot, newKey } from './topology.js';

const skip =
  (await labSkipReason({ tun: true, tools: ['nft', 'ss'] })) ??
  (findAddon() ? false : 'the TUN addon is not built (native/tun): run "npm run build"');
const RAW_CLIENT = fileURLToPath(new URL('./raw-client.js', import.meta.url));
const RAW_SERVER = fileURLToPath(new URL('./raw-server.js', import.meta.url));

test('vpn-server --direct-listen :PORT listens on loopback only', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const id = newKey(l.stateA);
  const server = l.c.spawn(
    process.execPath,
    [CLI, 'vpn-server', '--direct-listen', `:${VPN_PORT}`, '--key', l.serverKey.file, '--allow', id.pk, '--state-dir', l.stateC],
    { label: 'vpn-server' },
  );
  await server.waitFor(new RegExp(`^vpn-server: up on .*, direct on 127\\.0\\.0\\.1:${VPN_PORT} as ${l.serverKey.pk}`, 'm'));
  const listening = (await l.c.run('ss', ['-ltnH'])).split('\n').filter((line) => line.includes(`:${VPN_PORT} `));
  assert.equal(listening.length, 1, listening.join('\n'));
  assert.match(listening[0], new RegExp(`\\s127\\.0\\.0\\.1:${VPN_PORT}\\s`));

  const fromA = l.a.spawn(process.execPath, [RAW_CLIENT, `${C_ON_A_LINK}:${VPN_PORT}`, l.serverKey.pk, id.file], { label: 'raw client on A' });
  await fromA.waitFor(new RegExp(`ECONNREFUSED ${C_ON_A_LINK.replace(/\./g, '\\.')}:${VPN_PORT}`));
  const local = l.c.spawn(process.execPath, [RAW_CLIENT, `127.0.0.1:${VPN_PORT}`, l.serverKey.pk, id.file], { label: 'raw client on C' });
  await local.waitFor(/^assign \{"address":"10\.99\.0\.2"/m);
  local.child.kill();
  assert.equal((await server.stop()).code, 0);
});

test('HELLOs that are null, arrays or mistyped are refused as bad_hello and the server goes on', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const id = newKey(l.stateA);
  const server = l.c.spawn(
    process.execPath,
    [CLI, 'vpn-server', '--direct-listen', `${C_ON_A_LINK}:${VPN_PORT}`, '--key', l.serverKey.file, '--allow', id.pk, '--state-dir', l.stateC],
    { label: 'vpn-server' },
  );
  await server.waitFor(/^vpn-server: up on/m);
  const cases: Array<[string, string]> = [
    ['null', 'not an object'],
    ['[]', 'not an object'],
    ['[1,1400]', 'not an object'],
    ['"v1"', 'not an object'],
    ['not json', 'not JSON'],
    ['{}', '\\"v\\" must be a whole number'],
    ['{"v":"1","mtu":1400}', '\\"v\\" must be a whole number'],
    ['{"v":1.5,"mtu":1400}', '\\"v\\" must be a whole number'],
    ['{"v":1}', '\\"mtu\\" must be a whole number from 576 to 65535'],
    ['{"v":1,"mtu":"big"}', '\\"mtu\\" must be a whole number from 576 to 65535'],
    ['{"v":1,"mtu":1e9}', '\\"mtu\\" must be a whole number from 576 to 65535'],
    ['{"v":1,"mtu":null}', '\\"mtu\\" must be a whole number from 576 to 65535'],
  ];
  await Promise.all(
    cases.map(async ([body, why]) => {
      const c = l.a.spawn(process.execPath, [RAW_CLIENT, `${C_ON_A_LINK}:${VPN_PORT}`, l.serverKey.pk, id.file, '--hello', body], { label: `hello ${body}` });
      const m = await c.waitFor(/^error (.*)$/m);
      assert.deepEqual(Object.keys(JSON.parse(m[1]) as object), ['code', 'message'], body);
      assert.ok(m[1].startsWith('{"code":"bad_hello","message":"malformed HELLO frame: ') && m[1].includes(why), `${body}: ${m[1]}`);
      await c.waitFor(/^closed/m);
    }),
  );
  assert.equal(server.running, true);
  const good = l.a.spawn(process.execPath, [RAW_CLIENT, `${C_ON_A_LINK}:${VPN_PORT}`, l.serverKey.pk, id.file], { label: 'good client' });
  await good.waitFor(/^assign \{"address":"10\.99\.0\.2","prefixLen":24,"gateway":"10\.99\.0\.1","mtu":1400,"offload":false\}/m);
  good.child.kill();
  assert.equal((await server.stop()).code, 0);
});

test('malformed ASSIGNs change nothing on the client, which retries; an ERROR with escapes is shown as plain text', { skip }, async (t) => {
  const l = await buildVpnLab();
  t.after(() => l.cleanup());
  const before = await netSnapshot(l.a);
  const answers = [
    'assign:[]',
    'assign:{"address":"10.99.0.2 dev lo","prefixLen":24,"gateway":"10.99.0.1","mtu":1400}',
    'assign:{"address":"10.99.0.2","prefixLen":"24","gateway":"10.99.0.1","mtu":"1400 up"}',
    'error:{"code":"not_allowed","message":"go away\\u001b[2J\\u001b]0;pwned\\u0007\\nsecond line"}',
  ];
  const fake = l.c.spawn(process.execPath, [RAW_SERVER, C_ON_A_LINK, String(VPN_PORT), l.serverKey.file, ...answers], { label: 'raw server' });
  await fake.waitFor(/^listening/m);
  const id = newKey(l.stateA);
  const client = l.a.spawn(
    process.execPath,
    [CLI, 'vpn-client', l.serverKey.pk, '--direct', `${C_ON_A_LINK}:${VPN_PORT}`, '--key', id.file, '--state-dir', l.stateA],
    { label: 'vpn-client' },
  );
  const exit = await client.exited;
  assert.equal(exit.code, 1, client.stderr);
  assert.match(fake.stdout, /hello 4/);
  assert.match(client.stderr, /malformed ASSIGN frame: not an object/);
  assert.match(client.stderr, /malformed ASSIGN frame: \\"address\\" must be an IPv4 address/);
  assert.match(client.stderr, /malformed ASSIGN frame: \\"prefixLen\\" must be a whole number from 1 to 30/);
  assert.match(client.stderr, /^vpn-client: the vpn-server refused: go away \[2J \]0;pwned second line$/m);
  assert.doesNotMatch(client.stderr, /\p{Cc}(?<!\n)/u, 'no control characters reach the terminal');
  assert.equal(await netSnapshot(l.a), before, 'no device, address or route was made');
});
