import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameDecoder,
  MAX_BODY,
  OP_REG,
  decodeMessage,
  encodeAck,
  encodeMessage,
  encodeNormal,
  encodePing,
  encodePong,
  type Frame,
} from '../../src/signal/frames.js';
import { SignalFrameError } from '../../src/signal/errors.js';

const hex = (b: Buffer) => b.toString('hex');

test('the REG frame for id 5 is byte for byte the docs/design.md test vector', () => {
  const frame = encodeNormal(1, encodeMessage(OP_REG, { Id: 5 }));
  assert.equal(hex(frame), '01' + '00000001' + '00000009' + '00' + '7b224964223a357d');
  const [decoded] = new FrameDecoder().push(Buffer.from('01000000010000000900' + '7b224964223a357d', 'hex'));
  assert.equal(decoded.type, 'normal');
  assert.deepEqual(decodeMessage((decoded as Extract<Frame, { type: 'normal' }>).body), { op: 0, data: { Id: 5 } });
});

test('ACK, PING and PONG have their fixed layouts, and a request without fields is "null"', () => {
  assert.equal(hex(encodeAck(0x01020304)), '8001020304');
  assert.equal(hex(encodePing(1_500_000_000_000)), '81' + '0000015d3ef79800');
  assert.equal(hex(encodePong(2n ** 64n - 1n)), '82' + 'ff'.repeat(8));
  assert.equal(hex(encodeMessage(0x01, null)), '01' + Buffer.from('null').toString('hex'));
  assert.equal(hex(encodeMessage(0x81, undefined)), '81' + Buffer.from('null').toString('hex'));
});

function sampleStream(): { bytes: Buffer; frames: Frame[] } {
  const frames: Frame[] = [
    { type: 'normal', seq: 1, body: encodeMessage(0x00, { Id: 5, Token: 'abc', Name: 'ñandú' }) },
    { type: 'ack', seq: 7 },
    { type: 'ping', ms: 1_700_000_000_123n },
    { type: 'normal', seq: 2, body: encodeMessage(0x81, null) },
    { type: 'pong', ms: 2n ** 64n - 1n },
    { type: 'normal', seq: 0xffffffff, body: Buffer.alloc(0) },
  ];
  const bytes = Buffer.concat(
    frames.map((f) =>
      f.type === 'normal' ? encodeNormal(f.seq, f.body) : f.type === 'ack' ? encodeAck(f.seq) : f.type === 'ping' ? encodePing(f.ms) : encodePong(f.ms),
    ),
  );
  return { bytes, frames };
}

function decodeChunks(chunks: Buffer[]): Frame[] {
  const d = new FrameDecoder();
  const out = chunks.flatMap((c) => d.push(c));
  assert.equal(d.buffered, 0);
  return out;
}

test('the decoder yields the same frames under every chunking of the stream', () => {
  const { bytes, frames } = sampleStream();
  assert.deepEqual(decodeChunks([bytes]), frames);
  assert.deepEqual(decodeChunks([...bytes].map((b) => Buffer.from([b]))), frames);
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      assert.deepEqual(decodeChunks([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]), frames, `split ${i},${j}`);
    }
  }
});

test('a NORMAL frame longer than 10240 bytes is refused as soon as its header arrives', () => {
  const ok = encodeNormal(1, Buffer.alloc(MAX_BODY, 0x20));
  assert.equal(new FrameDecoder().push(ok).length, 1);
  const header = Buffer.from('01' + '00000001' + '00002801', 'hex'); // len 10241, no body sent
  const d = new FrameDecoder();
  assert.throws(() => d.push(header), (e: unknown) => e instanceof SignalFrameError && e.code === 'too_large');
  assert.throws(() => d.push(Buffer.from([0x80, 0, 0, 0, 1])), SignalFrameError, 'stays failed');
  assert.throws(() => encodeNormal(1, Buffer.alloc(MAX_BODY + 1)), /exceeds 10240/);
});

test('an unknown type byte is refused, also after valid frames', () => {
  for (const type of [0x00, 0x02, 0x7f, 0x83, 0xff]) {
    const d = new FrameDecoder();
    assert.throws(
      () => d.push(Buffer.concat([encodeAck(1), Buffer.from([type])])),
      (e: unknown) => e instanceof SignalFrameError && e.code === 'unknown_type' && e.message.includes(type.toString(16).padStart(2, '0')),
    );
  }
});

test('message bodies: op byte plus JSON, with clear errors for the rest', () => {
  assert.deepEqual(decodeMessage(encodeMessage(0x82, { Pid: 42 })), { op: 0x82, data: { Pid: 42 } });
  assert.throws(() => decodeMessage(Buffer.alloc(0)), /no op byte/);
  assert.throws(() => decodeMessage(Buffer.from('\x01{nope')), (e: unknown) => e instanceof SignalFrameError && e.code === 'bad_body');
});

// Deterministic PRNG so a failure can be replayed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('thousands of random and mutated inputs: the decoder only ever returns frames or throws SignalFrameError', () => {
  const rand = rng(20170301);
  const int = (n: number) => Math.floor(rand() * n);
  const { bytes } = sampleStream();
  let frames = 0;
  let refused = 0;
  for (let i = 0; i < 5000; i++) {
    let input: Buffer;
    if (i % 2 === 0) {
      input = Buffer.alloc(int(64));
      for (let k = 0; k < input.length; k++) input[k] = int(256);
    } else {
      input = Buffer.from(bytes);
      for (let m = 1 + int(4); m > 0; m--) input[int(input.length)] = int(256);
      if (rand() < 0.3) input = input.subarray(0, int(input.length));
    }
    const d = new FrameDecoder();
    try {
      let off = 0;
      while (off < input.length) {
        const n = 1 + int(16);
        for (const f of d.push(input.subarray(off, off + n))) {
          frames++;
          if (f.type === 'normal') {
            assert.ok(f.body.length <= MAX_BODY);
            try {
              decodeMessage(f.body);
            } catch (e) {
              assert.ok(e instanceof SignalFrameError, `decodeMessage threw ${String(e)}`);
            }
          }
        }
        off += n;
      }
    } catch (e) {
      assert.ok(e instanceof SignalFrameError, `input ${input.toString('hex')} threw ${String(e)}`);
      refused++;
    }
  }
  assert.ok(frames > 1000 && refused > 1000, `both outcomes exercised (${frames} frames, ${refused} refused)`);
});
