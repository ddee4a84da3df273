// The acceptance transfer: 1 GB over A -> B -> C with metering on. B's statement, exported by the CLI,
// verifies offline (`skywire metering verify`, exit 0) and claims within 0.1% of what C signed; checked against
// A's statement (C's route receipts), B's claim does not exceed what arrived end to end.
// The slowest file of test/metering: about 25-60 s on the shared 2-core build machine (docs/metering.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../node/harness.js';
import { cli, meteredChain, transfer, view, type Row } from './process-helpers.js';
import type { Statement, Verification } from '../../src/node/metering/statement.js';
import { decodeReceipt } from '../../src/node/metering/receipt.js';

const GB = 1_000_000_000;

test('1 GB A -> B -> C: B\'s statement verifies offline and claims within 0.1% of what C signed', { timeout: 180_000 }, async (t) => {
  const { c, apps, from, a, cc, keys: [keyA, keyB] } = await meteredChain(t);
  const total = Math.ceil(GB / (1 << 20)) * (1 << 20); // whole MiB blocks: 1,000,341,504 bytes
  const t0 = Date.now();
  await transfer(c, a, cc, total, apps);
  const secs = (Date.now() - t0) / 1000;
  t.diagnostic(`1 GB in ${secs.toFixed(1)} s (${(total / 1e6 / secs).toFixed(0)} MB/s)`);

  let out: Row | undefined;
  await waitFor('B to hold a receipt from C for everything it forwarded', async () => {
    out = (await view(keyB)).find((r) => r.dir === 'out' && r.peer === cc.pk && r.bytes >= total);
    return !!out && out.signedBytes === out.bytes;
  });
  // And A (the route's owner) must hold C's final route receipt before it exports: its ledger is written once a
  // second, and a statement taken earlier holds the previous second's receipt, which B's claim exceeds.
  await waitFor("A to hold C's route receipt for everything that arrived", async () =>
    (await view(keyA)).some((r) => r.dir === 'route' && r.peer === cc.pk && r.signedBytes >= total));
  const period = `${from}..${new Date(Date.now() + 60_000).toISOString()}`;
  const [fileA, fileB] = [join(c.dir, 'a.json'), join(c.dir, 'b.json')];
  for (const [key, f] of [[keyA, fileA], [keyB, fileB]]) assert.equal((await cli(['metering', 'export', '--key', key, '--period', period, '-o', f])).code, 0);
  const r = await cli(['metering', 'verify', fileB, '--routes', fileA, '--json']);
  assert.equal(r.code, 0, r.stdout);
  const v = JSON.parse(r.stdout) as Verification;
  const e = v.entries.find((x) => x.peer === cc.pk && x.routeId === out!.routeId)!;
  const s = JSON.parse(readFileSync(fileB, 'utf8')) as Statement;
  const signedByC = decodeReceipt(Buffer.from(s.entries.find((x) => x.peer === cc.pk && x.routeId === out!.routeId)!.receipt!, 'hex'));
  assert.equal(signedByC.signer, cc.pk);
  assert.ok(e.claimedBytes >= total, `B claims ${e.claimedBytes} for ${total} sent`);
  assert.ok(Math.abs(e.claimedBytes - e.signedBytes) <= e.signedBytes * 0.001, `B claims ${e.claimedBytes}, C signed ${e.signedBytes}`);
  t.diagnostic(`B claims ${e.claimedBytes} bytes, C signed ${e.signedBytes} (final receipt seq ${signedByC.seq})`);
});
