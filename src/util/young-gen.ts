// Memory levers for the processes on the data path (the node, the VPN apps), all about short-lived Buffers.
//
// 1. V8's young generation. Every packet allocates short-lived objects (Buffer views, frames, arrays of
//    pieces), and under load V8 grows its semi-spaces to their maximum (16 MiB each on 64-bit, 3 of them
//    reserved and touched). Objects here die young, so a small nursery costs more, cheaper scavenges instead.
//    The maximum semi-space size is only read when the heap is set up, but the growth factor is read each time
//    the nursery would grow, so setting it to 1 at startup keeps the nursery at its initial size.
// 2. A scavenge per YOUNG_GARBAGE_BYTES of Buffers allocated. A 64 KB Buffer is a small JS object owning 64 KB of
//    C memory: the JS side allocates too little to trigger scavenges often, so at 1 Gbit/s tens of MB of dead
//    Buffers waited for V8's external-memory limit (64 MB) before being freed (bench/node/memory.bench.ts:
//    arrayBuffers 10-35 MB in a node carrying 1 Gbit/s). The data path reports the bytes it moves; every
//    CHECK_EVERY_BYTES of them we look at V8's count of Buffer memory (a couple of microseconds) and scavenge
//    once it grew by YOUNG_GARBAGE_BYTES since the last scavenge. Counting Buffers rather than bytes moved gives
//    a sender, a forwarder and a receiver (and the VPN apps) the same bound, though each allocates a different
//    number of Buffers per byte. A scavenge of a nursery this small takes well under a millisecond.
//    A budget of 1 MiB promoted the Buffers still queued at the sender to the old generation; 4 MiB held more.
// 3. A full collection once Buffer memory, just after a scavenge, exceeds what it was after the last full
//    collection by OLD_GARBAGE_BYTES. Buffers that wait long enough (a sender's chunks while its route's window
//    is full) are promoted to the old generation, and when they die only a full collection frees them, which V8
//    starts by the JS heap's growth or 64 MB of external memory: a sender's Buffers grew by 0.3 MB/s for 50 s at
//    1 Gbit/s (8 -> 23.5 MB) until one came (docs/node-memory.md). A full collection of a heap this small costs
//    a few ms, every 10-20 s at that rate. (A full collection every 32 MiB moved, tried before, cost 70% more CPU
//    per GB; Buffers that live long are avoided where we can: src/node/send-window.ts.)
// 4. Backing stores freed during the collection that found them dead, not later by a background sweeper: with
//    the concurrent sweeper the freeing lagged behind at 1 Gbit/s and the C heap's high-water mark rose by 4-6 MB.
import v8 from 'node:v8';
import vm from 'node:vm';

/** How often (bytes moved) the Buffer memory is looked at. */
const CHECK_EVERY_BYTES = 256 * 1024;
/** Buffers allocated since the last scavenge that trigger the next one. */
const YOUNG_GARBAGE_BYTES = 2 * 1024 * 1024;
/** Buffer memory beyond what was live after the last full collection that triggers the next one. */
const OLD_GARBAGE_BYTES = 4 * 1024 * 1024;
let gcMinor: (() => void) | undefined;
let gcMajor: (() => void) | undefined;
let sinceCheck = 0;
/** Buffer memory just after the last scavenge (or the lowest seen since), and after the last full collection. */
let afterScavenge = 0;
let afterFull = 0;
const bufferMemory = () => v8.getHeapStatistics().external_memory;

/**
 * Lever 1 alone, as early as possible: the nursery grows while the modules load (from 1 to 4 MiB per semi-space,
 * 8 MiB committed in an idle node) and does not shrink, so the skywire entry calls this before it loads any
 * command (src/cli/early-memory.ts); set there, the nursery stays at 1 MiB per semi-space.
 */
export function capNurseryGrowth(offVar: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env[offVar] === 'default') return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}

/** Turns the levers on unless `env[offVar]` is "default" (to compare, or if a workload proves them slower). */
export function capYoungGeneration(offVar: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!capNurseryGrowth(offVar, env)) return false;
  v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as ((o?: { type: 'minor' }) => void) | undefined;
  if (typeof gc === 'function') {
    gcMinor = () => gc({ type: 'minor' });
    // Not gc({ type: 'major' }): in this V8 that one left promoted Buffers in place (test/util/young-gen.test.ts).
    gcMajor = () => gc();
    afterScavenge = afterFull = bufferMemory();
  }
  return true;
}

/** Called on the data path with the bytes just moved: collects when enough Buffer memory is garbage. */
export function noteDataBytes(n: number): void {
  if (!gcMinor) return;
  sinceCheck += n;
  if (sinceCheck < CHECK_EVERY_BYTES) return;
  sinceCheck = 0;
  const now = bufferMemory();
  if (now - afterScavenge < YOUNG_GARBAGE_BYTES) {
    if (now < afterScavenge) afterScavenge = now;
    return;
  }
  gcMinor();
  afterScavenge = bufferMemory();
  if (afterScavenge - afterFull < OLD_GARBAGE_BYTES) {
    if (afterScavenge < afterFull) afterFull = afterScavenge;
    return;
  }
  gcMajor!();
  afterScavenge = afterFull = bufferMemory();
}
