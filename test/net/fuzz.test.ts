// Thousands of random and mutated inputs to each handshake act and to the message decoder: every one must fail
// with a typed error (never crash, never succeed, never yield plaintext). Plus garbage at a real listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Handshake, HandshakeError } from '../../src/net/handshake.js';
import { generateKeyPair } from '../../src/net/keys.js';
import { MessageDecoder, MessageEncryptor, MessageError } from '../../src/net/message-cipher.js';
import { listenSecure } from '../../src/net/tcp.js';

const R = generateKeyPair(); // responder static
const I = generateKeyPair(); // initiator static

function mutate(b: Buffer): Buffer {
  const m = Buffer.from(b);
  const kind = randomInt(4);
  if (kind === 0) m[randomInt(m.length)] ^= 1 << randomInt(8); // one bit
  else if (kind === 1) m[randomInt(m.length)] = randomInt(256); // one byte (may be unchanged: skipped below)
  else if (kind === 2) return m.subarray(0, randomInt(m.length)); // truncated
  else return Buffer.concat([m, randomBytes(1 + randomInt(8))]); // extended
  return m;
}

function expectHandshakeError(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HandshakeError, `${what}: ${(err as Error).stack}`);
    return;
  }
  assert.fail(`${what}: accepted`);
}

// Fixed ephemeral keys let each try replay the acts before the mutated one without new key generation, which
// keeps thousands of tries affordable (an ECDH in pure JS costs milliseconds).
const IE = generateKeyPair();
const RE = generateKeyPair();
const initiator = () => new Handshake('initiator', I, { remotePublicKey: R.publicKey, ephemeral: IE });
const responder = () => new Handshake('responder', R, { ephemeral: RE });

/** A real exchange, so mutations start from valid acts. */
function validActs() {
  const i = initiator();
  const r = responder();
  const a1 = i.act1();
  r.readAct1(a1);
  const a2 = r.act2();
  i.readAct2(a2);
  const a3 = i.act3();
  r.readAct3(a3);
  return { a1, a2, a3 };
}
const VALID = validActs();

test('random and mutated act 1 inputs are rejected by the responder', () => {
  const { a1 } = VALID;
  for (let n = 0; n < 1500; n++) {
    const input = n % 3 === 0 ? randomBytes(randomInt(2) ? 50 : randomInt(120)) : mutate(a1);
    if (input.equals(a1)) continue;
    expectHandshakeError(() => responder().readAct1(input), `act1 #${n}`);
  }
});

test('random and mutated act 2 inputs are rejected by the initiator', () => {
  const { a2 } = VALID;
  for (let n = 0; n < 800; n++) {
    const i = initiator();
    i.act1();
    const input = n % 3 === 0 ? randomBytes(randomInt(2) ? 50 : randomInt(120)) : mutate(a2);
    if (input.equals(a2)) continue;
    expectHandshakeError(() => i.readAct2(input), `act2 #${n}`);
  }
});

test('random and mutated act 3 inputs are rejected by the responder', () => {
  const { a1, a3 } = VALID;
  for (let n = 0; n < 800; n++) {
    const r = responder();
    r.readAct1(a1);
    r.act2();
    const input = n % 3 === 0 ? randomBytes(randomInt(2) ? 66 : randomInt(140)) : mutate(a3);
    if (input.equals(a3)) continue;
    expectHandshakeError(() => r.readAct3(input), `act3 #${n}`);
  }
});

/** Feeds `wire` to a decoder in random pieces; returns the released plaintext and the error, if any. */
function decodeInPieces(dec: MessageDecoder, wire: Buffer): { plain: Buffer; err?: unknown } {
  const out: Buffer[] = [];
  let off = 0;
  try {
    while (off < wire.length) {
      const n = 1 + randomInt(Math.min(4096, wire.length - off));
      for (const p of dec.push(wire.subarray(off, off + n))) out.push(p);
      off += n;
    }
  } catch (err) {
    return { plain: Buffer.concat(out), err };
  }
  return { plain: Buffer.concat(out) };
}

test('random bytes never decode as messages', () => {
  const key = randomBytes(32);
  const ck = randomBytes(32);
  for (let n = 0; n < 2000; n++) {
    const { plain, err } = decodeInPieces(new MessageDecoder(key, ck), randomBytes(18 + randomInt(300)));
    assert.equal(plain.length, 0);
    // Either a tag failed, or the bytes did not even complete a length prefix + body.
    if (err) assert.ok(err instanceof MessageError, String(err));
  }
});

test('a mutated message stream releases only the messages before the damage', () => {
  const key = randomBytes(32);
  const ck = randomBytes(32);
  for (let n = 0; n < 1500; n++) {
    const enc = new MessageEncryptor(key, ck);
    const msgs = Array.from({ length: 1 + randomInt(5) }, () => randomBytes(randomInt(400)));
    const wires = msgs.map((m) => enc.encryptToBuffer(m));
    const wire = Buffer.concat(wires);
    const at = randomInt(wire.length);
    const bad = Buffer.from(wire);
    bad[at] ^= 1 << randomInt(8);
    const dec = new MessageDecoder(key, ck);
    // Feed message by message so the verified ones before the damage are observable.
    const released: Buffer[] = [];
    let err: unknown;
    let off = 0;
    for (const w of wires) {
      try {
        for (const p of dec.push(bad.subarray(off, off + w.length))) released.push(p);
      } catch (e) {
        err = e;
        break;
      }
      off += w.length;
    }
    let damaged = 0;
    for (let k = 0, end = 0; k < wires.length; k++) {
      end += wires[k].length;
      if (at < end) {
        damaged = k;
        break;
      }
    }
    assert.ok(err instanceof MessageError, `flip at ${at} must fail`);
    assert.deepEqual(Buffer.concat(released), Buffer.concat(msgs.slice(0, damaged)), 'only intact messages released');
    assert.throws(() => dec.push(Buffer.alloc(1)), MessageError, 'the decoder stays failed');
  }
});

test('a listener survives garbage and truncated handshakes from many connections', async (t) => {
  let accepted = 0;
  const l = await listenSecure({ localKey: R, handshakeTimeoutMs: 2000 }, () => accepted++);
  t.after(() => l.close());
  const { a1 } = VALID;
  const tries = 200;
  await Promise.all(
    Array.from({ length: tries }, async (_, n) => {
      const s = connect(l.address().port, '127.0.0.1');
      s.on('error', () => {});
      s.resume();
      await once(s, 'connect');
      const junk = n % 2 ? randomBytes(1 + randomInt(200)) : mutate(a1);
      if (n % 4 === 0) s.end(junk);
      else s.write(junk);
      await once(s, 'close'); // the listener hangs up (bad act) or we time out waiting... never both succeed
    }),
  );
  assert.equal(accepted, 0);
});
