// The frame reader: whatever way the bytes are cut, the same frames come out; junk headers fail at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { generateKeyPair } from '../../src/net/keys.js';
import {
  FrameReader,
  MAX_DATA_PAYLOAD,
  OP,
  ProtocolError,
  T,
  encodeData,
  encodeOpen,
  encodeReq,
  encodeSidU32,
  type Frame,
} from '../../src/messenger/protocol.js';

const flat = (f: Frame) => (Array.isArray(f) ? Buffer.concat(f) : f);

test('frames come out whole whatever the chunking (DATA possibly in pieces), and a lookup encodes as documented', () => {
  const pk = generateKeyPair().publicKey;
  const frames = [
    encodeReq(7, OP.LOOKUP, pk),
    encodeData(3, randomBytes(MAX_DATA_PAYLOAD)),
    encodeSidU32(T.WINDOW, 3, 65536),
    encodeData(5, randomBytes(10)),
    encodeOpen(9, 1 << 18, 80, pk),
    encodeData(1, randomBytes(40000)),
  ];
  assert.equal(frames[0].subarray(0, 8).toString('hex'), '01002600000007' + '03');
  const stream = Buffer.concat(frames);
  for (let round = 0; round < 200; round++) {
    const r = new FrameReader();
    const out: Frame[] = [];
    for (let off = 0; off < stream.length; ) {
      const n = round === 0 ? 1 : randomInt(1, 70000);
      out.push(...r.push(stream.subarray(off, off + n)));
      off += n;
    }
    assert.deepEqual(out.map(flat), frames, `round ${round}`);
    for (const f of out) if (Array.isArray(f)) assert.equal(f[0][0], T.DATA);
  }
});

test('a bad header fails as soon as its three bytes are in', () => {
  assert.throws(() => new FrameReader().push(Buffer.from([0x7f, 0xff, 0xff])), ProtocolError);
  assert.throws(() => new FrameReader().push(Buffer.from([T.REQ, 0xff, 0xff])), /exceeds/);
  assert.throws(() => new FrameReader().push(Buffer.from([T.WINDOW, 0x00, 0x09])), /8-byte body/);
  const r = new FrameReader();
  assert.deepEqual(r.push(Buffer.from([T.REQ])), []);
  assert.throws(() => r.push(Buffer.from([0x00, 0x02])), /too short/);
});
