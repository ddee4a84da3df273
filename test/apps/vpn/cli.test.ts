// The VPN commands' user-facing errors: bad input, no CAP_NET_ADMIN, refusal to start with nobody allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPk } from './topology.js';
import { dropNetAdmin, dropNetAdminSkip, runCli } from './cli-child.js';

test('bad arguments get a one-line error and exit code 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['vpn-server', '--allow', 'nope'], /--allow "nope" is not a public key/],
    [['vpn-server'], /no client is allowed: give --allow <key> or --allow-file <path>/],
    [['vpn-server', '--allow', newPk(), '--subnet', '10.0.0.1/8'], /has host bits set/],
    [['vpn-server', '--allow', newPk(), '--mtu', '99'], /--mtu "99" must be a whole number from 576 to 65000/],
    [['vpn-client', 'zz'], /server key "zz" is not a public key/],
    [['vpn-client', newPk(), '--direct', '127.0.0.1:1'], /--direct needs --key <file>/],
    [['vpn-client', 'auto', '--direct', '127.0.0.1:1', '--key', 'k.json'], /--direct needs the server's key, not "auto"/],
    [['vpn-server', '--allow', newPk(), '--direct-listen', '127.0.0.1:0'], /--direct-listen needs --key <file>/],
    [['vpn-client', 'auto', '--dev', 'a-very-long-device-name'], /device name .* must be 1-15/],
    [['vpn-client', 'auto', '--offload', 'yes'], /--offload "yes" must be on or off/],
    [['vpn-server', '--allow', newPk(), '--offload', '1'], /--offload "1" must be on or off/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
});

const dropCap = dropNetAdmin;
const capSkip = dropNetAdminSkip;

test('without CAP_NET_ADMIN both apps exit at once saying how to grant it', { skip: capSkip }, async () => {
  for (const args of [['vpn-server', '--allow', newPk()], ['vpn-client', newPk(), '--subnet', '10.1.0.0/16']]) {
    const r = await runCli(args, dropCap);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /needs the CAP_NET_ADMIN capability/);
    assert.match(r.stderr, /Run it as root, or grant it to node once with: sudo setcap cap_net_admin\+ep/);
  }
});
