// Statements with hash-chain links, and the fast verifier (OpenSSL across worker threads) against the
// independent one (@noble/curves): the same answers on honest, forged and doctored statements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/net/keys.js';
import { signReceipt, RECEIPT_MESSAGE_BYTES } from '../../src/node/metering/receipt.js';
import { chainValue, linkText, makeChain } from '../../src/node/metering/chain.js';
import { buildStatement, signStatement, verifyStatement, verifyStatementFast, type Statement } from '../../src/node/metering/statement.js';
import { HOUR_MS, type LedgerRecord } from '../../src/node/metering/ledger.js';
import { verifyReceiptsParallel } from '../../src/node/metering/verify-pool.js';

const MiB = 1 << 20;
const node = generateKeyPair();
const peer = generateKeyPair();
const pkN = node.publicKey.toString('hex');
const pkP = peer.publicKey.toString('hex');
const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
const period = { fromMs: hour, toMs: hour + HOUR_MS };

/** `n` routes, each a receipt for 5 MiB with a chain of 8 links, link 3 held: 8 MiB proven. */
function statement(n: number): { s: Statement; chains: Buffer[] } {
  const records: LedgerRecord[] = [];
  const chains: Buffer[] = [];
  for (let i = 1; i <= n; i++) {
    const chain = makeChain(8);
    chains.push(chain);
    const r = signReceipt(
      { signer: pkP, payee: pkN, routeId: i, bytes: 5 * MiB, packets: 80, seq: 1, timeMs: hour + 1000, chain: { step: MiB, links: 8, tip: chainValue(chain, 0).toString('hex') } },
      peer,
    );
    records.push({ dir: 'out', peer: pkP, routeId: i, hour, bytes: 8 * MiB, packets: 128, receipt: r.raw.toString('hex'), link: linkText(3, chainValue(chain, 3)), lastMs: hour + 2000 });
  }
  return { s: buildStatement(node, records, period, hour + 3000), chains };
}

function resign(s: Statement, edit: (s: Statement) => void): Statement {
  const c = JSON.parse(JSON.stringify(s)) as Statement;
  edit(c);
  const { signature: _, ...body } = c;
  void _;
  return signStatement(body, node);
}

test('a link proves step bytes per index beyond its receipt; a link that does not hash to the tip proves nothing and is reported', async () => {
  const { s, chains } = statement(3);
  for (const verify of [verifyStatement, verifyStatementFast]) {
    const v = await verify(s);
    assert.deepEqual(v.issues, []);
    assert.equal(v.totals.signedBytes, 3 * 8 * MiB, 'receipt 5 MiB + link 3 x 1 MiB, per route');
    assert.equal(v.totals.coverage, 1);
  }
  // B claims more by showing a higher link it made up, or one of another chain.
  for (const link of [linkText(7, Buffer.alloc(32, 9)), linkText(7, chainValue(chains[1], 7)), linkText(9, chainValue(chains[0], 8))]) {
    const bad = resign(s, (c) => {
      c.entries[0].link = link;
      c.entries[0].claimed.bytes = 12 * MiB;
    });
    for (const verify of [verifyStatement, verifyStatementFast]) {
      const v = await verify(bad);
      assert.ok(v.issues.some((i) => i.kind === 'wrong-key' && /link \d+ does not hash to its chain's tip/.test(i.message)), JSON.stringify(v.issues));
      assert.ok(v.issues.some((i) => i.kind === 'inflated'), 'the claim is judged against the receipt alone');
    }
  }
  const shape = await verifyStatementFast(resign(s, (c) => (c.entries[0].link = '3:zz')));
  assert.equal(shape.issues[0].kind, 'malformed');
  assert.match(shape.issues[0].message, /entries\[0\]\.link must be "INDEX:HEX"/);
});

test('the fast verifier spreads a large statement over threads and agrees with noble, a forged signature included', async () => {
  const { s } = statement(900);
  const forged = resign(s, (c) => {
    const raw = Buffer.from(c.entries[700].receipt!, 'hex');
    raw[RECEIPT_MESSAGE_BYTES + 5] ^= 1;
    c.entries[700].receipt = raw.toString('hex');
  });
  const fast = await verifyStatementFast(forged);
  const slow = verifyStatement(forged);
  assert.deepEqual(fast, slow);
  assert.equal(fast.issues.length, 1);
  assert.equal(fast.issues[0].kind, 'wrong-key');
  assert.equal(fast.issues[0].routeId, forged.entries[700].routeId);
  // Each thread's share is checked: a flipped signature in any share is found.
  const raws = s.entries.map((e) => Buffer.from(e.receipt!, 'hex'));
  for (const at of [0, 450, 899]) raws[at] = Buffer.from(raws[at]).fill(0, RECEIPT_MESSAGE_BYTES, RECEIPT_MESSAGE_BYTES + 32);
  const ok = await verifyReceiptsParallel(raws, 3);
  assert.deepEqual([0, 450, 899].map((i) => ok[i]), [false, false, false]);
  assert.equal(ok.filter(Boolean).length, 897);
});
