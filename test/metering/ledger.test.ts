// The ledger on disk: what is written is read back after a reopen, hours past the retention are deleted, old
// hours are compacted into daily totals that still verify, and a damaged record is skipped (counted), never returned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { DAY_MS, HOUR_MS, Ledger, type LedgerRecord } from '../../src/node/metering/ledger.js';
import { LedgerThread } from '../../src/node/metering/ledger-thread.js';
import { generateKeyPair } from '../../src/net/keys.js';
import { signReceipt } from '../../src/node/metering/receipt.js';
import { buildStatement, verifyStatement } from '../../src/node/metering/statement.js';

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

test('hours older than two days are compacted into one signed total per route and day, which still verifies', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const node = generateKeyPair();
  const peer = generateKeyPair();
  const [pkN, pkP] = [node, peer].map((k) => k.publicKey.toString('hex'));
  const day = Math.floor(Date.now() / DAY_MS) * DAY_MS - 4 * DAY_MS;
  // Two routes, 24 hourly records each over one day, a receipt per hour; then the day after, one hour.
  const records: LedgerRecord[] = [];
  for (const routeId of [1, 2]) {
    for (let h = 0; h < 24; h++) {
      const bytes = (h + 1) * 1_000_000 * routeId;
      const timeMs = day + h * HOUR_MS + 1000;
      const r = signReceipt({ signer: pkP, payee: pkN, routeId, bytes, packets: h + 1, seq: h, timeMs }, peer);
      records.push({ dir: 'out', peer: pkP, routeId, hour: day + h * HOUR_MS, bytes, packets: h + 1, receipt: r.raw.toString('hex'), lastMs: timeMs + 10 });
    }
  }
  const next = signReceipt({ signer: pkP, payee: pkN, routeId: 1, bytes: 30_000_000, packets: 30, seq: 30, timeMs: day + DAY_MS + 1000 }, peer);
  records.push({ dir: 'out', peer: pkP, routeId: 1, hour: day + DAY_MS, bytes: 30_000_000, packets: 30, receipt: next.raw.toString('hex'), lastMs: day + DAY_MS + 1010 });
  const before = new Ledger(join(dir, 'l'));
  await before.open();
  await before.write(records);
  const period = { fromMs: day + DAY_MS, toMs: day + 2 * DAY_MS };
  const hourly = verifyStatement(buildStatement(node, await before.records(0, period.toMs), period));
  await before.close();

  const l = new Ledger(join(dir, 'l'));
  await l.open(); // compacts on open
  t.after(() => l.close());
  const left = await l.records();
  assert.equal(left.length, 3, 'one record per route for the old day, and the next day\'s');
  assert.deepEqual(left.filter((r) => r.hour === day).map((r) => [r.routeId, r.bytes]), [[1, 24_000_000], [2, 48_000_000]], "each the day's last total");
  // The day after, stated from the compacted ledger: same as from the hourly one, and it verifies.
  const v = verifyStatement(buildStatement(node, left, period));
  assert.deepEqual(v.issues, []);
  assert.equal(v.totals.signedBytes, 6_000_000, 'the day after: 30 MB minus the compacted day\'s 24 MB');
  assert.deepEqual(v.totals, hourly.totals);
  // The compacted day itself still verifies, at day granularity.
  const d = verifyStatement(buildStatement(node, left, { fromMs: day, toMs: day + DAY_MS }));
  assert.deepEqual([d.ok, d.totals.signedBytes], [true, 72_000_000]);
  assert.equal(await l.compact(), 0, 'compacting again changes nothing');
});

test('the ledger on its own thread: the same records, the same clear error when the directory is taken', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const now = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  const l = new LedgerThread(join(dir, 'l'));
  await l.open();
  t.after(() => l.close());
  await l.write([rec(now, 1, 10), rec(now, 2, 20)]);
  assert.deepEqual((await l.records(now, now + HOUR_MS)).map((r) => [r.routeId, r.bytes]), [[1, 10], [2, 20]]);
  assert.equal(await l.compact(), 0);
  const second = new LedgerThread(join(dir, 'l'));
  await assert.rejects(second.open(), /cannot open the metering ledger in .*: .*is another node running with this ledger\?/);
  await l.close();
  await assert.rejects(l.records(), /is not open/);
  const again = new Ledger(join(dir, 'l')); // the same files, read on this thread
  await again.open();
  t.after(() => again.close());
  assert.equal((await again.records()).length, 2);
});
