// Route-level receipts across real node processes: A -> B -> C. C, the route's far end, signs to A what arrived
// end to end and sends it back over the route; A's statement carries it. B and C collude: C signs B a per-hop
// receipt for bytes that never arrived. B's statement alone still verifies (C's signature is genuine), and
// checked against A's statement (`verify --routes`) the inflated claim is caught; honest B passes both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readKeyFile } from '../../src/net/keys.js';
import { waitFor } from '../node/harness.js';
import { cli, meteredChain, transfer, view, type Row } from './process-helpers.js';
import { signStatement, type Statement } from '../../src/node/metering/statement.js';
import { decodeReceipt, signReceipt } from '../../src/node/metering/receipt.js';

test('A -> B -> C: C signs A what arrived end to end; a claim B and C inflate together is caught against it', async (t) => {
  const { c, apps, from, a, cc, keys: [keyA, keyB, keyC] } = await meteredChain(t);
  const total = 16 << 20;
  await transfer(c, a, cc, total, apps);

  let route: Row | undefined;
  await waitFor("A to hold C's route receipt for everything that arrived", async () => {
    route = (await view(keyA)).find((r) => r.dir === 'route' && r.peer === cc.pk && r.signedBytes >= total);
    return !!route;
  });
  let out: Row | undefined;
  await waitFor('B to hold a receipt from C for everything it forwarded', async () => {
    out = (await view(keyB)).find((r) => r.dir === 'out' && r.peer === cc.pk && r.routeId === route!.routeId);
    return !!out && out.signedBytes === out.bytes;
  });
  assert.equal(route!.signedBytes, out!.bytes, "C's route receipt to A and its receipts to B count the same bytes");

  const period = `${from}..${new Date(Date.now() + 60_000).toISOString()}`;
  const fileA = join(c.dir, 'a.json');
  const fileB = join(c.dir, 'b.json');
  for (const [key, f] of [[keyA, fileA], [keyB, fileB]]) {
    const ex = await cli(['metering', 'export', '--key', key, '--period', period, '-o', f]);
    assert.equal(ex.code, 0, ex.stderr);
  }
  const owner = JSON.parse(readFileSync(fileA, 'utf8')) as Statement;
  const owned = owner.routes?.find((e) => e.peer === cc.pk && e.routeId === route!.routeId);
  assert.ok(owned?.receipt, `A's statement lists the route with C's route receipt: ${JSON.stringify(owner.routes)}`);
  const rr = decodeReceipt(Buffer.from(owned.receipt, 'hex'));
  assert.deepEqual([rr.signer, rr.payee], [cc.pk, a.pk], 'signed by the far end, for the owner');

  // Honest B: verifies alone and against A's routes.
  let r = await cli(['metering', 'verify', fileB, '--routes', fileA, '--json']);
  assert.equal(r.code, 0, r.stdout);

  // B and C collude: C signs B a receipt for twice what arrived; B claims it and signs its statement again.
  const honest = JSON.parse(readFileSync(fileB, 'utf8')) as Statement;
  const s = JSON.parse(JSON.stringify(honest)) as Statement;
  const e = s.entries.find((x) => x.peer === cc.pk && x.routeId === route!.routeId)!;
  const real = decodeReceipt(Buffer.from(e.receipt!, 'hex'));
  const { raw: _r, chain: _c, ...fields } = real;
  void _r;
  void _c;
  e.receipt = signReceipt({ ...fields, bytes: real.bytes * 2, seq: real.seq + 1, timeMs: real.timeMs + 500 }, readKeyFile(keyC)).raw.toString('hex');
  delete e.link;
  e.claimed.bytes = real.bytes * 2;
  const { signature: _s, ...body } = s;
  void _s;
  const fileB2 = join(c.dir, 'b-colluding.json');
  writeFileSync(fileB2, JSON.stringify(signStatement(body, readKeyFile(keyB))));
  r = await cli(['metering', 'verify', fileB2]);
  assert.equal(r.code, 0, 'per hop, the collusion is invisible: C really signed it');
  r = await cli(['metering', 'verify', fileB2, '--routes', fileA]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /exceeds-route: route \d+ to .*: its next hop signed it 32\.0\d MiB, but that node signed to the route's owner .* that only 16\.\d\d MiB arrived end to end/);

  // The owner's file is evidence only if it holds up: a route receipt A doctors is caught.
  const o2 = JSON.parse(JSON.stringify(owner)) as Statement;
  const ro = o2.routes!.find((x) => x.routeId === route!.routeId)!;
  const raw = Buffer.from(ro.receipt!, 'hex');
  raw.writeBigUInt64BE(BigInt(real.bytes * 4), 74);
  ro.receipt = raw.toString('hex');
  const { signature: _o, ...ob } = o2;
  void _o;
  const fileA2 = join(c.dir, 'a-doctored.json');
  writeFileSync(fileA2, JSON.stringify(signStatement(ob, readKeyFile(keyA))));
  r = await cli(['metering', 'verify', fileB2, '--routes', fileA2]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /a-doctored\.json: owned route \d+ to .*: the receipt's signature does not verify/);
});
