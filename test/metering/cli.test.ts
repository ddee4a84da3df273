// `skywire metering` as a user meets it: periods, and verify's answers to files that are not statements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePeriod } from '../../src/cli/skywire-metering.js';
import { CLI } from '../node/harness.js';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, SIGNAL_CLIENT: 'false' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('periods: days, hours and ranges in UTC; anything else is refused by name', () => {
  const now = Date.parse('2026-11-27T13:05:00Z');
  assert.deepEqual(parsePeriod('today', now), { fromMs: Date.parse('2026-11-27T00:00:00Z'), toMs: Date.parse('2026-11-28T00:00:00Z') });
  assert.deepEqual(parsePeriod('yesterday', now), { fromMs: Date.parse('2026-11-26T00:00:00Z'), toMs: Date.parse('2026-11-27T00:00:00Z') });
  assert.deepEqual(parsePeriod('2026-11-20', now), { fromMs: Date.parse('2026-11-20T00:00:00Z'), toMs: Date.parse('2026-11-21T00:00:00Z') });
  assert.deepEqual(parsePeriod('2026-11-20T05', now), { fromMs: Date.parse('2026-11-20T05:00:00Z'), toMs: Date.parse('2026-11-20T06:00:00Z') });
  assert.deepEqual(parsePeriod('2026-11-20T05:00:00Z..2026-11-20T07:30:00Z', now), {
    fromMs: Date.parse('2026-11-20T05:00:00Z'),
    toMs: Date.parse('2026-11-20T07:30:00Z'),
  });
  const last = parsePeriod('last-hour', now);
  assert.ok(last.fromMs === now - 3_600_000 && last.toMs > now, 'up to now, inclusive');
  for (const bad of ['nonsense', '2026-13-45', 'b..a', '2026-11-20T07:00:00Z..2026-11-20T05:00:00Z']) {
    assert.throws(() => parsePeriod(bad, now), /is not today, yesterday/, bad);
  }
});

test('verify: exit 2 for a file that is not JSON or missing, 1 with the reason for JSON that is not a statement', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'metering-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'junk'), 'not json');
  writeFileSync(join(dir, 'other.json'), '{"type":"skywire-metering-statement","version":1,"node":"nope"}');
  let r = await cli(['metering', 'verify', join(dir, 'junk')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is not JSON/);
  r = await cli(['metering', 'verify', join(dir, 'missing.json')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read/);
  r = await cli(['metering', 'verify', join(dir, 'other.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /not a statement: node must be a public key/);
  r = await cli(['metering', 'export', '--period', 'nonsense']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /period "nonsense" is not/);
});
