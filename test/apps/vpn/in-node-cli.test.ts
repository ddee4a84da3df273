// `skywire node ... --vpn-server|--vpn-client ...`: the VPN part's help and usage errors come before the node
// starts (no key file created, no API file written, exit code 2), and without CAP_NET_ADMIN it exits 1 saying
// how to grant it, also before the node starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, pkToHex } from '../../../src/net/keys.js';
import { newPk } from './topology.js';
import { dropNetAdmin, dropNetAdminSkip, runCli } from './cli-child.js';

const realPk = () => pkToHex(generateKeyPair().publicKey);

/** A node command line (nothing listens at the messenger's address: the node would wait for it). */
function nodeArgs(dir: string): string[] {
  return ['node', '--key', join(dir, 'n.json'), '--messenger', `${realPk()}@127.0.0.1:9`, '--manager', realPk()];
}

test('the VPN part of a node command line: help, and usage errors before the node starts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-in-node-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const kind of ['--vpn-server', '--vpn-client']) {
    const help = await runCli(['node', kind, '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^Usage: skywire node \\.\\.\\. ${kind} `, 'm'));
    assert.match(help.stdout, /--offload <on\|off>/);
    assert.doesNotMatch(help.stdout, /--api-file|--direct/, 'no options of an app beside a node, or of no node');
    assert.match(help.stdout, new RegExp(`Examples:\\n  sudo skywire node --key .* ${kind} `));
  }
  const nodeHelp = await runCli(['node', '--help']);
  assert.match(nodeHelp.stdout, /--vpn-server \[vpn-server options\]/);
  assert.match(nodeHelp.stdout, /--vpn-client SERVER \[vpn-client options\]/);

  const cases: Array<[string[], RegExp]> = [
    [['--vpn-server'], /^vpn-server: no client is allowed: give --allow <key> or --allow-file <path>$/],
    [['--vpn-server', '--allow', newPk(), '--subnet', '10.0.0.1/8'], /^vpn-server: --subnet "10\.0\.0\.1\/8" has host bits set/],
    [['--vpn-server', '--allow', newPk(), '--port', 'x'], /^vpn-server: --port "x" must be an integer from 2 to 65535$/],
    [['--vpn-server', '--allow', newPk(), '--direct-listen', ':7'], /unknown option '--direct-listen'/],
    [['--vpn-client'], /missing required argument 'server'/],
    [['--vpn-client', 'zz'], /^vpn-client: server key "zz" is not a public key/],
    [['--vpn-client', newPk(), '--api-file', 'x.json'], /unknown option '--api-file'/],
    [['--vpn-client', newPk(), '--offload', 'yes'], /^vpn-client: --offload "yes" must be on or off$/],
  ];
  for (const [vpn, re] of cases) {
    const r = await runCli([...nodeArgs(dir), ...vpn]);
    assert.equal(r.code, 2, `${vpn.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), re);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
  assert.deepEqual(readdirSync(dir), [], 'the node never started: no key file, no API file');
});

const dropCap = dropNetAdmin;
const capSkip = dropNetAdminSkip;

test('without CAP_NET_ADMIN a node with a VPN part exits 1 before starting, saying how to grant it', { skip: capSkip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-in-node-cap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const vpn of [['--vpn-server', '--allow', newPk()], ['--vpn-client', newPk(), '--subnet', '10.1.0.0/16']]) {
    const r = await runCli([...nodeArgs(dir), ...vpn], dropCap);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^vpn-(server|client): needs the CAP_NET_ADMIN capability/m);
    assert.deepEqual(readdirSync(dir), [], 'the node never started');
  }
});
