// The skywire and viscript command lines as a user meets them, through the real bins: --version, help of a
// command, and one exit code (2) for every usage error, an unknown option named before a missing required one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../viscript/helpers.js';

const SKYWIRE = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
const VISCRIPT = fileURLToPath(new URL('../../src/cli/viscript.js', import.meta.url));

function run(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, SIGNAL_CLIENT: 'false' }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

test('--version on both bins prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
  for (const bin of [SKYWIRE, VISCRIPT]) {
    const r = await run(bin, ['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
  }
});

test('"skywire help node" shows the node\'s help; "skywire node transports --help" shows its help with examples', async () => {
  const help = await run(SKYWIRE, ['help', 'node']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: skywire node \[options\]/);
  const tr = await run(SKYWIRE, ['node', 'transports', '--help']);
  assert.equal(tr.code, 0, tr.stderr);
  assert.match(tr.stdout, /^Usage: skywire node transports add\|rm\|ls/);
  assert.match(tr.stdout, /Examples:\n {2}skywire node transports ls/);
  const none = await run(SKYWIRE, ['node', 'transports']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /missing action/);
});

test('every command answers an unknown option with exit 2, naming it (before any missing required option)', async () => {
  const commands = ['node', 'keygen', 'messenger', 'node-manager', 'ping', 'services', 'socks-server', 'socks-client', 'vpn-server', 'vpn-client', 'chat', 'demo'];
  const results = await Promise.all(commands.map((c) => run(SKYWIRE, [c, '--bogus'])));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, `${commands[i]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^skywire ${commands[i]}: error: unknown option '--bogus'`), commands[i]);
  });
  const v = await run(VISCRIPT, ['--bogus']);
  assert.equal(v.code, 2);
  assert.match(v.stderr, /^viscript: error: unknown option '--bogus'/);
  const unknownCmd = await run(SKYWIRE, ['frob']);
  assert.equal(unknownCmd.code, 2);
});

test('a key file in a missing folder: keygen and messenger both refuse, naming the folder, and create nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skywire-cli-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const missing = join(dir, 'missing', 'dir');
  for (const [cmd, option] of [['keygen', '--out'], ['messenger', '--key']]) {
    const r = await run(SKYWIRE, [cmd, option, join(missing, 'x.json'), ...(cmd === 'messenger' ? ['--listen', '127.0.0.1:0'] : [])]);
    assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
    assert.equal(r.stderr.trim(), `skywire ${cmd}: ${option} ${join(missing, 'x.json')}: the folder ${missing} does not exist (create it first, e.g. mkdir -p ${missing})`);
    assert.equal(existsSync(join(dir, 'missing')), false, `${cmd} created no folder`);
  }
});

test('socks-server waiting for its node\'s API file says so at once, before it gives up', { timeout: 20_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skywire-cli-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'a.api.json');
  const child = spawn(process.execPath, [SKYWIRE, 'socks-server', '--api-file', file], { env: { ...process.env, SIGNAL_CLIENT: 'false', SKYWIRE_APP_WAIT_MS: '60000' }, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stderr! }).once('line', resolve));
  assert.equal(line, `socks-server: waiting up to 60 s for the node's API file ${file} (its node writes it when it starts)`);
});

test('every command\'s --help ends with examples and prints defaults as text (no JSON, no empty lists)', async () => {
  const commands = ['node', 'node status', 'keygen', 'messenger', 'node-manager', 'ping', 'services', 'socks-server', 'socks-client', 'vpn-server', 'vpn-client', 'chat', 'demo'];
  const results = await Promise.all(commands.map((c) => run(SKYWIRE, [...c.split(' '), '--help'])));
  results.forEach((r, i) => {
    assert.equal(r.code, 0, `${commands[i]}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`\\nExamples:\\n  skywire ${commands[i]}`), commands[i]);
    assert.doesNotMatch(r.stdout, /default: (\{|\[\]|false)/, commands[i]);
  });
  const demo = results[commands.indexOf('demo')].stdout;
  assert.match(demo, /the SOCKS5 proxy for your programs \(default:\s+127\.0\.0\.1:1080\)/);
});

test('the same options have the same short flags and placeholders everywhere: -k, --key and -m, --messenger <PK@HOST:PORT>', async () => {
  const commands = ['node', 'node-manager', 'messenger', 'services', 'chat', 'ping', 'node status', 'vpn-server', 'vpn-client'];
  const results = await Promise.all(commands.map((c) => run(SKYWIRE, [...c.split(' '), '--help'])));
  results.forEach((r, i) => {
    if (/--key </.test(r.stdout)) assert.match(r.stdout, /-k, --key </, `${commands[i]}: -k`);
    if (/--messenger </.test(r.stdout) && commands[i] !== 'demo') assert.match(r.stdout, /-m, --messenger <PK@HOST:PORT/, `${commands[i]}: -m`);
    assert.doesNotMatch(r.stdout, /<pk>|pk@host/, `${commands[i]}: one placeholder style (PK, PK@HOST:PORT)`);
  });
});
