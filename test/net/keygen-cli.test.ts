// `skywire keygen` run for real as a child process: writes a 0600 key file, prints only the public key,
// refuses to overwrite without --force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readKeyFile } from '../../src/net/keys.js';

const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test('skywire keygen writes a 0600 key file and prints its public key, never the secret', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'net-keygen-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'node.json');
  const r = await run(['keygen', '--out', file]);
  assert.equal(r.code, 0, r.stderr);
  const pk = r.stdout.trim();
  assert.match(pk, /^0[23][0-9a-f]{64}$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const kp = readKeyFile(file);
  assert.equal(kp.publicKey.toString('hex'), pk);
  const secret = kp.secretKey.toString('hex');
  assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'the secret key is never printed');

  // A second run must not destroy the identity...
  const again = await run(['keygen', '--out', file]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists.*--force/);
  assert.equal(readKeyFile(file).publicKey.toString('hex'), pk);
  // ...unless --force is given.
  const forced = await run(['keygen', '--out', file, '--force', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  const out = JSON.parse(forced.stdout) as { publicKey: string; file: string };
  assert.notEqual(out.publicKey, pk);
  assert.equal(out.file, file);
  assert.equal(readKeyFile(file).publicKey.toString('hex'), out.publicKey);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).publicKey, out.publicKey);
});

test('skywire keygen reports bad options and lists itself in skywire help', async () => {
  const bad = await run(['keygen', '--bogus']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown option '--bogus'/);
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /keygen\s+create a key pair file/);
});
