// Metering across real node processes: A -> B -> C, B forwards, C signs what it received from B. B's statement,
// exported by the CLI, verifies offline and claims what C signed; statements B doctors (with its own key, as a
// cheating B would) are caught by `skywire metering verify`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readKeyFile, generateKeyPair } from '../../src/net/keys.js';
import { waitFor } from '../node/harness.js';
import { cli, meteredChain, transfer, view, type Row } from './process-helpers.js';
import { signStatement, type Statement } from '../../src/node/metering/statement.js';
import { decodeReceipt, RECEIPT_MESSAGE_BYTES, signReceipt } from '../../src/node/metering/receipt.js';
import { Ledger } from '../../src/node/metering/ledger.js';

test('A -> B -> C: B exports a statement that verifies offline and claims within 0.1% of what C signed; doctored ones are caught', async (t) => {
  const { c, apps, from, a, b, cc, keys: [, keyB, keyC] } = await meteredChain(t);
  const total = 64 << 20;
  await transfer(c, a, cc, total, apps);

  // The route closed: C signs its final receipt at the CLOSE, and B's ledger gets it within a tick.
  let out: Row | undefined;
  await waitFor('B to hold a receipt from C for everything it forwarded', async () => {
    out = (await view(keyB)).find((r) => r.dir === 'out' && r.peer === cc.pk && r.bytes >= total);
    return !!out && out.signedBytes === out.bytes;
  });
  const cRows = await view(keyC);
  const cIn = cRows.find((r) => r.dir === 'in' && r.peer === b.pk && r.routeId === out!.routeId);
  assert.ok(cIn, `C meters the same route id as received from B: ${JSON.stringify(cRows)} vs ${JSON.stringify(out)} a=${a.pk} b=${b.pk} c=${cc.pk}`);
  assert.equal(cIn.signedBytes, out!.bytes, 'C signed what B counted as forwarded');

  const to = new Date(Date.now() + 60_000).toISOString();
  const file = join(c.dir, 'b-statement.json');
  const ex = await cli(['metering', 'export', '--key', keyB, '--period', `${from}..${to}`, '-o', file]);
  assert.equal(ex.code, 0, ex.stderr);
  const honest = JSON.parse(readFileSync(file, 'utf8')) as Statement;
  assert.equal(honest.node, b.pk);
  const ok = await cli(['metering', 'verify', file, '--json']);
  const v = JSON.parse(ok.stdout) as { ok: boolean; issues: unknown[]; entries: Array<{ peer: string; routeId: number; claimedBytes: number; signedBytes: number }> };
  assert.equal(ok.code, 0, ok.stdout);
  assert.deepEqual(v.issues, [], 'an honest node is not flagged');
  const toC = v.entries.find((e) => e.peer === cc.pk && e.routeId === out!.routeId)!;
  assert.ok(toC, 'the route to C is in the statement');
  const signedByC = decodeReceipt(Buffer.from(honest.entries.find((e) => e.peer === cc.pk && e.routeId === out!.routeId)!.receipt!, 'hex'));
  assert.equal(signedByC.signer, cc.pk);
  assert.ok(toC.claimedBytes >= total);
  assert.ok(Math.abs(toC.claimedBytes - signedByC.bytes) <= signedByC.bytes * 0.001, `claims ${toC.claimedBytes}, C signed ${signedByC.bytes}`);
  // A (the route's source) signed for what B sent back to it on the reverse path: B claims that too.
  assert.ok(v.entries.some((e) => e.peer === a.pk), 'the reverse hop to A is in the statement');
  const human = await cli(['metering', 'verify', file]);
  assert.match(human.stdout, /^OK: every claim is backed/m);

  // A cheating B edits its own statement and signs it again with its own key.
  const kb = readKeyFile(keyB);
  const doctored = async (edit: (s: Statement) => void) => {
    const s = JSON.parse(JSON.stringify(honest)) as Statement;
    edit(s);
    const { signature: _, ...body } = s;
    void _;
    const f = join(c.dir, `doctored-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, JSON.stringify(signStatement(body, kb)));
    const r = await cli(['metering', 'verify', f, '--json']);
    assert.equal(r.code, 1, `verify must fail: ${r.stdout}`);
    return (JSON.parse(r.stdout) as { issues: Array<{ kind: string; message: string }> }).issues;
  };
  const entry = (s: Statement) => s.entries.find((e) => e.peer === cc.pk && e.routeId === out!.routeId)!;
  // Inflated counts.
  let issues = await doctored((s) => (entry(s).claimed.bytes = Math.round(entry(s).claimed.bytes * 1.2)));
  assert.ok(issues.some((i) => i.kind === 'inflated' && /claims .* MiB, the peer signed for .* MiB/.test(i.message)), JSON.stringify(issues));
  // A receipt replayed: the same route listed twice, and this period's receipt in a later period's statement.
  issues = await doctored((s) => s.entries.push(JSON.parse(JSON.stringify(entry(s))) as Statement['entries'][0]));
  assert.ok(issues.some((i) => i.kind === 'replayed'), JSON.stringify(issues));
  issues = await doctored((s) => (s.period = { fromMs: Date.now() + 3_600_000, toMs: Date.now() + 7_200_000 }));
  assert.ok(issues.some((i) => i.kind === 'replayed' && /outside the period/.test(i.message)), JSON.stringify(issues));
  // A receipt signed with another key: B's own, for more bytes, under C's name.
  issues = await doctored((s) => {
    const r = decodeReceipt(Buffer.from(entry(s).receipt!, 'hex'));
    const mine = signReceipt({ ...r, signer: b.pk, bytes: r.bytes * 2 }, kb).raw;
    const underC = Buffer.from(signReceipt({ ...r, bytes: r.bytes * 2, signer: cc.pk }, readKeyFile(keyC)).raw);
    mine.copy(underC, RECEIPT_MESSAGE_BYTES, RECEIPT_MESSAGE_BYTES); // C's fields, B's signature
    entry(s).receipt = underC.toString('hex');
    entry(s).claimed.bytes = r.bytes * 2;
  });
  assert.ok(issues.some((i) => i.kind === 'wrong-key'), JSON.stringify(issues));
  issues = await doctored((s) => {
    const r = decodeReceipt(Buffer.from(entry(s).receipt!, 'hex'));
    entry(s).receipt = signReceipt({ ...r, signer: b.pk }, kb).raw.toString('hex');
  });
  assert.ok(issues.some((i) => i.kind === 'wrong-key' && /signed by .*not by the peer/.test(i.message)), JSON.stringify(issues));
  // Withheld: a claim without a receipt.
  issues = await doctored((s) => delete entry(s).receipt);
  assert.ok(issues.some((i) => i.kind === 'withheld'), JSON.stringify(issues));
  // A statement someone else signed.
  const forged = signStatement((({ signature: _s, ...body }) => body)(honest), generateKeyPair());
  const f = join(c.dir, 'forged.json');
  writeFileSync(f, JSON.stringify(forged));
  const r = await cli(['metering', 'verify', f]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /bad-statement-signature: the statement is not signed by its node/);

  // Durable: B killed with SIGKILL, its ledger still holds C's final receipt for the route.
  await b.kill('SIGKILL');
  const ledger = new Ledger(join(c.dir, 'node1.metering'));
  await ledger.open();
  t.after(() => ledger.close());
  const rec = (await ledger.records()).filter((x) => x.dir === 'out' && x.peer === cc.pk && x.routeId === out!.routeId).pop();
  assert.ok(rec?.receipt, 'the record and its receipt survived');
  assert.equal(decodeReceipt(Buffer.from(rec.receipt, 'hex')).bytes, signedByC.bytes);
});
