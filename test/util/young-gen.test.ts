// The data path's collection policy (src/util/young-gen.ts): Buffers that were promoted to V8's old generation
// and then dropped are freed once they add up, without waiting for V8's own trigger (64 MB of external memory).
// A sender's Buffers grew by 15 MB over 50 s at 1 Gbit/s before this (docs/node-memory.md). This file's process
// turns the levers on for itself; each test file runs in its own process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { capYoungGeneration, noteDataBytes } from '../../src/util/young-gen.js';

const MiB = 1024 * 1024;
const bufferMemory = () => v8.getHeapStatistics().external_memory;

test('Buffers promoted to the old generation and dropped are freed while the data path keeps moving bytes', () => {
  assert.equal(capYoungGeneration('SKYWIRE_TEST_YOUNG_GEN', {}), true);
  const gc = vm.runInNewContext('gc') as (o: { type: 'minor' }) => void;
  const base = bufferMemory();
  const waiting: Buffer[] = Array.from({ length: 160 }, () => Buffer.alloc(64 * 1024, 1)); // 10 MiB
  // They outlive two scavenges, as chunks waiting for a full route window do, so they are promoted; then die.
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  assert.equal(waiting.length, 160);
  waiting.length = 0;
  const dropped = bufferMemory();
  assert.ok(dropped - base >= 9 * MiB, `${dropped - base} bytes of Buffers`);
  // The data path goes on: short-lived Buffers, each reported as bytes moved (a scavenge alone frees only these).
  for (let i = 0; i < 128; i++) {
    const packet = Buffer.alloc(64 * 1024, i);
    noteDataBytes(packet.length);
  }
  const now = bufferMemory();
  assert.ok(now - base < 4 * MiB, `Buffer memory is ${now - base} bytes above the start (${dropped - base} after the drop)`);
});
