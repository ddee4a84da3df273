// The TUN addon hands over a batch as one buffer with the packets back to back and their lengths:
// splitBatch must give each packet exactly, as views (no copy) or, for the per-packet mode, as copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitBatch } from '../../../src/apps/vpn/tun.js';

test('a batch splits into its packets, in order and whole; views share the batch, copies do not', () => {
  const p1 = Buffer.from('4500001c', 'hex');
  const p2 = Buffer.from('45000014aabbccdd', 'hex');
  const p3 = Buffer.alloc(1400, 7);
  const batch = Buffer.concat([p1, p2, p3]);
  const views = splitBatch(batch, [p1.length, p2.length, p3.length]);
  assert.deepEqual(views, [p1, p2, p3]);
  assert.equal(views[1].buffer, batch.buffer, 'a view, not a copy');
  const copies = splitBatch(batch, [p1.length, p2.length, p3.length], true);
  assert.deepEqual(copies, [p1, p2, p3]);
  batch.fill(0);
  assert.deepEqual(copies[2], p3, 'copies outlive a reused batch');
  assert.deepEqual(splitBatch(Buffer.alloc(0), []), []);
});
