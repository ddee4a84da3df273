// The ledger on disk: what is written is read back after a reopen, hours past the retention are deleted, and a
// damaged record is skipped (counted), never returned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { HOUR_MS, Ledger, type LedgerRecord } from '../../src/node/metering/ledger.js';

const PK = '02' + 'ab'.repeat(32);
const rec = (hour: number, routeId: number, bytes: number): LedgerRecord => ({ dir: 'out', peer: PK, routeId, hour, bytes, packets: 1, lastMs: hour + 1 });

test('records survive a reopen, are read by period, and old hours are pruned', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const now = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  let l = new Ledger(join(dir, 'l'), 48 * HOUR_MS);
  await l.open();
  assert.equal(statSync(join(dir, 'l')).mode & 0o077, 0, 'private directory');
  await l.write([rec(now - 100 * HOUR_MS, 1, 10), rec(now - 2 * HOUR_MS, 2, 20), rec(now, 3, 30)]);
  await l.close();
  l = new Ledger(join(dir, 'l'), 48 * HOUR_MS);
  await l.open(); // prunes on open
  t.after(() => l.close());
  assert.deepEqual((await l.records()).map((r) => r.routeId), [2, 3]);
  assert.deepEqual((await l.records(now, now + HOUR_MS)).map((r) => r.routeId), [3]);
  assert.deepEqual((await l.records(now - 3 * HOUR_MS, now)).map((r) => r.routeId), [2]);
});

test('a damaged or foreign record is skipped and counted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const now = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  const db = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8' });
  await db.put(`r!${now}!o!x!1`, '{"dir":"out","peer":"nope"}');
  await db.put(`r!${now}!o!y!2`, 'not json');
  await db.close();
  const l = new Ledger(dir);
  await l.open();
  t.after(() => l.close());
  await l.write([rec(now, 7, 70)]);
  assert.deepEqual((await l.records()).map((r) => r.routeId), [7]);
  assert.equal(l.skipped, 2);
});
