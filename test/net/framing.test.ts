// FrameDecoder: splits length-prefixed frames however the bytes arrive, and refuses oversized lengths before
// buffering them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { FrameDecoder, FrameTooLargeError } from '../../src/net/framing.js';

function frame(header: Buffer, lengthBytes: 2 | 4, body: Buffer): Buffer {
  const len = Buffer.alloc(lengthBytes);
  if (lengthBytes === 2) len.writeUInt16BE(body.length);
  else len.writeUInt32BE(body.length);
  return Buffer.concat([header, len, body]);
}

test('frames come out whole however the stream is split', () => {
  for (const lengthBytes of [2, 4] as const) {
    for (const headerBytes of [0, 1, 5]) {
      const frames = Array.from({ length: 200 }, () => frame(randomBytes(headerBytes), lengthBytes, randomBytes(randomInt(3000))));
      const wire = Buffer.concat(frames);
      const dec = new FrameDecoder({ lengthBytes, headerBytes, maxLength: 3000 });
      const out: Buffer[] = [];
      for (let off = 0; off < wire.length; ) {
        const n = 1 + randomInt(randomInt(2) ? 7 : 5000);
        out.push(...dec.push(wire.subarray(off, off + n)));
        off += n;
      }
      assert.equal(out.length, frames.length);
      for (let i = 0; i < frames.length; i++) assert.ok(out[i].equals(frames[i]), `frame ${i}`);
      assert.equal(dec.bufferedBytes, 0);
    }
  }
});

test('the signal test vector frame decodes with a 5-byte header and a 4-byte length', () => {
  const wire = Buffer.from('01000000010000000900' + Buffer.from('{"Id":5}').toString('hex'), 'hex');
  const dec = new FrameDecoder({ lengthBytes: 4, headerBytes: 5, maxLength: 10240 });
  assert.deepEqual(dec.push(wire.subarray(0, 3)), []);
  const [f] = dec.push(wire.subarray(3));
  assert.ok(f.equals(wire));
});

test('an oversized length is rejected as soon as it is readable, with a typed error', () => {
  const dec = new FrameDecoder({ lengthBytes: 4, headerBytes: 1, maxLength: 1024 });
  dec.push(Buffer.from([0x01, 0x00]));
  assert.throws(
    () => dec.push(Buffer.from([0x00, 0x04, 0x01])),
    (err: unknown) => err instanceof FrameTooLargeError && err.length === 1025 && err.maxLength === 1024 && err.code === 'frame_too_large',
  );
  assert.equal(dec.bufferedBytes, 0, 'nothing of the bad frame is kept');
  assert.throws(() => dec.push(Buffer.alloc(1)), FrameTooLargeError, 'the decoder stays failed');
});

test('the decoder never holds more than one maximum frame', () => {
  const max = 4096;
  const dec = new FrameDecoder({ lengthBytes: 2, maxLength: max });
  let peak = 0;
  for (let i = 0; i < 2000; i++) {
    const f = frame(Buffer.alloc(0), 2, randomBytes(randomInt(max + 1)));
    for (let off = 0; off < f.length; off += 100) {
      dec.push(f.subarray(off, off + 100));
      peak = Math.max(peak, dec.bufferedBytes);
    }
  }
  assert.ok(peak <= max + 2, `peak ${peak}`);
});
