// Per-hop receipts between two meters joined directly (what the transports carry in between is the RECEIPT
// packet, tested in the process test): the cadence, and every receipt a sender must refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, type KeyPair } from '../../src/net/keys.js';
import { createLogger } from '../../src/util/log.js';
import { Meter, MIN_LINKS, RECEIPT_EVERY_BYTES, UNSIGNED_TAIL_BYTES, WITHHELD_AFTER_MS, LINGER_MS } from '../../src/node/metering/meter.js';
import { decodeReceipt, RECEIPT_BYTES, RECEIPT_MESSAGE_BYTES, signReceipt } from '../../src/node/metering/receipt.js';
import { encodeLink, LINK_BYTES } from '../../src/node/metering/chain.js';
import { MAX_LINKS } from '../../src/node/metering/proof.js';

const log = createLogger('test');

/** B forwards on its rule 11 to C, whose rule for the route is 22; C's receipts reach B unless `drop` says so. */
function pair(o: { drop?: () => boolean } = {}) {
  const kb = generateKeyPair();
  const kc = generateKeyPair();
  const hex = (k: KeyPair) => k.publicKey.toString('hex');
  const alive = new Set([11, 22]);
  const sent: Buffer[] = [];
  const b: Meter = new Meter({ key: kb, pkHex: hex(kb), log, ruleAlive: (id) => alive.has(id), sendReceipt: () => true });
  const c: Meter = new Meter({
    key: kc,
    pkHex: hex(kc),
    log,
    ruleAlive: (id) => alive.has(id),
    sendReceipt: (pk, raw) => {
      assert.equal(pk, hex(kb));
      sent.push(raw);
      if (!o.drop?.()) b.onReceipt(hex(kc), raw);
      return true;
    },
  });
  /** One packet from B to C. */
  const packet = (len: number) => {
    b.forwarded(11, hex(kc), 22, len);
    c.received(hex(kb), 22, len);
  };
  const out = () => b.rows().find((r) => r.dir === 'out')!;
  /** Waits for the signatures and checks in flight (they run on the thread pool). */
  const settle = async () => {
    await c.settled();
    b.checkReceipts();
    await b.settled();
  };
  return { settle, kb, kc, b, c, sent, packet, out, alive, pkB: hex(kb), pkC: hex(kc) };
}

test('the receiver proves every 1 MiB (a receipt, then links of its chain), signs on the 1 s tick and at close; the sender keeps the latest', async () => {
  const p = pair();
  const receipts = () => p.sent.filter((x) => x.length === RECEIPT_BYTES).map(decodeReceipt);
  const links = () => p.sent.filter((x) => x.length === LINK_BYTES);
  for (let i = 0; i < 16; i++) p.packet(65528); // 1 MiB minus 128 bytes: nothing yet
  assert.equal(p.sent.length, 0);
  p.packet(65528);
  await p.settle();
  assert.equal(receipts().length, 1, 'a receipt once 1 MiB arrived');
  const first = receipts()[0];
  assert.equal(first.bytes, 17 * 65528);
  assert.deepEqual([first.chain?.step, first.chain?.links], [RECEIPT_EVERY_BYTES, MIN_LINKS], 'it commits to a chain');
  assert.equal(p.out().signedBytes, 17 * 65528);
  // Three more MiB: three links, no signature.
  for (let i = 0; i < 3 * 16; i++) p.packet(65536);
  await p.settle();
  assert.equal(receipts().length, 1, 'no new signature within the second');
  assert.equal(links().length, 3, 'a link per MiB');
  assert.equal(p.out().signedBytes, 17 * 65528 + 3 * RECEIPT_EVERY_BYTES, 'each link proves one more MiB');
  assert.equal(p.b.counters.linksAccepted, 3);
  p.packet(100);
  await p.c.tick();
  await p.settle();
  assert.equal(receipts().length, 2, 'the tick signs exactly what arrived');
  assert.equal(p.out().signedBytes, p.out().bytes);
  await p.c.tick();
  await p.settle();
  assert.equal(receipts().length, 2, 'nothing new, nothing signed');
  p.packet(7);
  p.c.closed(22);
  await p.settle();
  assert.equal(receipts().length, 3, 'a final receipt at close');
  const last = receipts()[2];
  assert.deepEqual([last.bytes, last.packets, last.seq, last.chain], [17 * 65528 + 3 * RECEIPT_EVERY_BYTES + 107, 17 + 48 + 2, 2, undefined]);
  assert.equal(p.out().bytes, p.out().signedBytes);
  assert.equal(p.b.counters.receiptsAccepted, 3);
  assert.ok(RECEIPT_EVERY_BYTES === 1 << 20);
});

test('a sender refuses links that do not hash to the receipt\'s tip, are for another receipt or beyond the chain; after a bad one the receipt takes no more', async () => {
  const p = pair();
  p.packet(RECEIPT_EVERY_BYTES);
  await p.settle();
  const r = decodeReceipt(p.sent[0]);
  const c = p.b.counters.refused;
  const forged = { routeId: 22, seq: r.seq, index: 2, value: Buffer.alloc(32, 1) };
  p.b.onReceipt(p.pkC, encodeLink({ ...forged, seq: r.seq + 5 }));
  assert.equal(c.stale, 1, 'a link of a receipt we do not hold');
  p.b.onReceipt(p.pkC, encodeLink({ ...forged, index: r.chain!.links + 1 }));
  assert.equal(c.badLink, 1, 'beyond the chain');
  p.b.onReceipt(p.pkC, encodeLink({ ...forged, routeId: 23 }));
  assert.equal(c.unknownRoute, 1);
  p.b.onReceipt(p.pkC, encodeLink(forged));
  assert.equal(c.badLink, 2, 'a value that does not hash to the tip');
  assert.equal(p.out().signedBytes, RECEIPT_EVERY_BYTES, 'no bad link proved anything');
  // The honest links of that receipt are now ignored too: its signer sent a bad one (only the transport peer can).
  for (let i = 0; i < 16; i++) p.packet(65536);
  await p.settle();
  assert.equal(c.badLink, 3);
  assert.equal(p.out().signedBytes, RECEIPT_EVERY_BYTES);
  await p.c.tick();
  await p.settle();
  assert.equal(p.out().signedBytes, 2 * RECEIPT_EVERY_BYTES, 'the next receipt proves it all');
  // A chain longer than a sender checks (each link could cost that many hashes) is refused with its receipt.
  const long = signReceipt(
    { signer: p.pkC, payee: p.pkB, routeId: 22, bytes: 3 * RECEIPT_EVERY_BYTES, packets: 48, seq: 50, timeMs: Date.now(), chain: { step: RECEIPT_EVERY_BYTES, links: MAX_LINKS + 1, tip: 'ab'.repeat(32) } },
    p.kc,
  );
  const malformed = c.malformed;
  p.b.onReceipt(p.pkC, long.raw);
  assert.equal(c.malformed, malformed + 1);
});

test('a sender refuses receipts that are replayed, from another key, for another node or for a route it never used', async () => {
  const p = pair();
  p.packet(RECEIPT_EVERY_BYTES);
  await p.settle();
  p.packet(RECEIPT_EVERY_BYTES);
  await p.settle();
  await p.c.tick();
  await p.settle();
  assert.deepEqual(p.sent.map((x) => x.length), [RECEIPT_BYTES, LINK_BYTES, RECEIPT_BYTES], 'a receipt, a link, the tick\'s receipt');
  const r = p.b.counters.refused;
  p.b.onReceipt(p.pkC, p.sent[0]);
  assert.equal(r.stale, 1, 'an older receipt replayed');
  p.b.onReceipt(p.pkC, p.sent[2]);
  assert.equal(r.stale, 2, 'the same receipt again');
  p.b.onReceipt(p.pkC, p.sent[1]);
  assert.equal(r.stale, 3, 'a link of a receipt superseded');
  const other = generateKeyPair();
  const fields = { signer: p.pkC, payee: p.pkB, routeId: 22, bytes: 10 * RECEIPT_EVERY_BYTES, packets: 10, seq: 9, timeMs: Date.now() };
  const forged = Buffer.from(signReceipt(fields, p.kc).raw);
  // The same message, but the signature of another key.
  signReceipt({ ...fields, signer: other.publicKey.toString('hex') }, other).raw.copy(forged, RECEIPT_MESSAGE_BYTES, RECEIPT_MESSAGE_BYTES);
  p.b.onReceipt(p.pkC, forged);
  await p.settle();
  assert.equal(r.badSignature, 1);
  p.b.onReceipt(other.publicKey.toString('hex'), signReceipt({ ...fields, signer: other.publicKey.toString('hex') }, other).raw);
  assert.equal(r.unknownRoute, 1, 'a neighbour we never sent to on that route');
  p.b.onReceipt(p.pkB, signReceipt(fields, p.kc).raw);
  assert.equal(r.wrongSigner, 1, 'signed by someone other than the transport peer');
  p.b.onReceipt(p.pkC, signReceipt({ ...fields, payee: other.publicKey.toString('hex') }, p.kc).raw);
  assert.equal(r.wrongPayee, 1);
  p.b.onReceipt(p.pkC, signReceipt({ ...fields, routeId: 23 }, p.kc).raw);
  assert.equal(r.unknownRoute, 2);
  p.b.onReceipt(p.pkC, Buffer.alloc(50));
  await p.settle();
  assert.equal(r.malformed, 1);
  assert.equal(p.out().signedBytes, 2 * RECEIPT_EVERY_BYTES, 'none of them changed what the sender holds');
  assert.equal(p.b.counters.receiptsAccepted, 2);
});

test('a next hop that withholds its receipts is shown as withholding; an honest one never is', async () => {
  let withhold = false;
  const p = pair({ drop: () => withhold });
  const t0 = Date.now();
  for (let i = 0; i < 20; i++) p.packet(RECEIPT_EVERY_BYTES);
  await p.settle();
  await p.b.tick(t0);
  await p.b.tick(t0 + 10 * WITHHELD_AFTER_MS);
  assert.equal(p.out().withholding, false);
  withhold = true;
  for (let i = 0; i < UNSIGNED_TAIL_BYTES / RECEIPT_EVERY_BYTES + 1; i++) p.packet(RECEIPT_EVERY_BYTES);
  await p.settle();
  await p.b.tick(t0);
  assert.equal(p.b.rows(t0 + WITHHELD_AFTER_MS - 1)[0].withholding, false, 'not before the grace');
  assert.equal(p.b.rows(t0 + WITHHELD_AFTER_MS)[0].withholding, true);
});

test('entries of closed routes are forgotten after a while: memory follows the live rules', async () => {
  const p = pair();
  p.packet(1000);
  p.alive.clear();
  const t0 = Date.now();
  await p.b.tick(t0);
  await p.c.tick(t0);
  assert.equal(p.b.rows().length, 1);
  await p.b.tick(t0 + LINGER_MS);
  await p.c.tick(t0 + LINGER_MS);
  assert.equal(p.b.rows().length, 0);
  assert.equal(p.c.rows().length, 0);
});
