// What a route's owner accepts as a route receipt (route-receipts.ts): only its far end's, for it, newest first,
// with a valid signature; the hops in between, who carry the packet, can neither forge nor replay one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, type KeyPair } from '../../src/net/keys.js';
import { RouteReceipts, type RouteEndRef } from '../../src/node/metering/route-receipts.js';
import { RECEIPT_MESSAGE_BYTES, signReceipt } from '../../src/node/metering/receipt.js';

const hex = (k: KeyPair) => k.publicKey.toString('hex');

test("the owner keeps the far end's newest route receipt and refuses a hop's forgery, a replay, another payee or a bad signature", async () => {
  const owner = generateKeyPair();
  const far = generateKeyPair();
  const hop = generateKeyPair();
  const busy: Promise<void>[] = [];
  const sentBack: Buffer[] = [];
  const end: RouteEndRef = { remotePk: hex(far), viaHops: true, sendBack: (raw) => sentBack.push(raw) > 0, sent: () => ({ bytes: 5000, packets: 5 }), alive: () => true };
  const rr = new RouteReceipts({ key: owner, pkHex: hex(owner), routeEnd: (k) => (k === 'r1' ? end : undefined) }, (p) => void busy.push(p));
  const settle = async () => {
    rr.tick(Date.now(), 10_000);
    await Promise.all(busy.splice(0));
  };
  const f = { signer: hex(far), payee: hex(owner), routeId: 77, bytes: 4000, packets: 4, seq: 0, timeMs: Date.now() };
  rr.onReceipt('r1', signReceipt(f, far).raw);
  await settle();
  assert.equal(rr.owned.get('r1')?.proof?.receipt.bytes, 4000);
  assert.deepEqual(rr.counters, { sent: 0, accepted: 1, refused: 0 });
  rr.onReceipt('r1', signReceipt({ ...f, signer: hex(hop), bytes: 9000, seq: 1 }, hop).raw); // a hop signs it
  rr.onReceipt('r1', signReceipt({ ...f, payee: hex(hop), bytes: 9000, seq: 1 }, far).raw); // issued to another
  rr.onReceipt('r1', signReceipt(f, far).raw); // replayed
  rr.onReceipt('r2', signReceipt({ ...f, seq: 1 }, far).raw); // a route we have no end of
  rr.onReceipt('r1', Buffer.alloc(30));
  const forged = Buffer.from(signReceipt({ ...f, bytes: 9000, seq: 1 }, far).raw);
  forged.writeBigUInt64BE(90_000n, 74); // a hop raises the count of a genuine receipt
  rr.onReceipt('r1', forged);
  assert.equal(forged.length > RECEIPT_MESSAGE_BYTES, true);
  await settle();
  assert.equal(rr.counters.refused, 6);
  assert.equal(rr.owned.get('r1')?.proof?.receipt.bytes, 4000, 'none of them changed what the owner holds');

  // The signing side: our end signs what arrived, for the other end, once per new count, sent back over the route.
  rr.sign('r1', 5, 1000, 2, Date.now());
  rr.sign('r1', 5, 1000, 2, Date.now());
  await settle();
  assert.equal(sentBack.length, 1, 'nothing new, nothing signed');
  rr.sign('r1', 5, 2000, 3, Date.now());
  await settle();
  assert.equal(sentBack.length, 2);
});
