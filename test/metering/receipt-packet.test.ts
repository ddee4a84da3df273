// A RECEIPT packet (type 7, route id 0) between two transports: handed to the 'receipt' listener whole, and
// the packets after it in the same chunk are still decoded (a decoder that did not know the type would drop the
// rest of the chunk as malformed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { generateKeyPair } from '../../src/net/keys.js';
import { PacketType, type Packet } from '../../src/node/packet.js';
import { signReceipt, decodeReceipt, verifyReceipt } from '../../src/node/metering/receipt.js';
import { memoryLink, pkA, pkB } from '../node/memory-link.js';

test('a RECEIPT packet on route id 0 reaches the peer whole, and the DATA behind it still arrives', async (t) => {
  const link = memoryLink();
  t.after(() => link.close());
  const k = generateKeyPair();
  const r = signReceipt({ signer: k.publicKey.toString('hex'), payee: pkA, routeId: 5, bytes: 1, packets: 1, seq: 0, timeMs: 1 }, k);
  const got = once(link.atA, 'receipt') as Promise<[Buffer]>;
  const data = once(link.atA, 'packet') as Promise<[Packet]>;
  // One chunk: the receipt, then a data packet.
  link.atB.channel.cork();
  link.atB.send(PacketType.RECEIPT, 0, r.raw);
  link.atB.send(PacketType.DATA, 9, Buffer.from('after'));
  link.atB.channel.uncork();
  const [raw] = await got;
  assert.equal(verifyReceipt(decodeReceipt(raw)), true);
  const [p] = await data;
  assert.equal(p.payload.toString(), 'after');
  assert.equal(link.atA.decoder.stats.malformed, 0);
  void pkB;
});
