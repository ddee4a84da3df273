// Memory levers for the processes on the data path (the node, the VPN apps), both about short-lived Buffers.
//
// 1. V8's young generation. Every packet allocates short-lived objects (Buffer views, frames, arrays of
//    pieces), and under load V8 grows its semi-spaces to their maximum (16 MiB each on 64-bit, 3 of them
//    reserved and touched). Objects here die young, so a small nursery costs more, cheaper scavenges instead.
//    The maximum semi-space size is only read when the heap is set up, but the growth factor is read each time
//    the nursery would grow, so setting it to 1 at startup keeps the nursery at its initial size.
// 2. A scavenge per DATA_BYTES_PER_SCAVENGE bytes moved. A 64 KB Buffer is a small JS object owning 64 KB of
//    C memory: the JS side allocates too little to trigger scavenges often, so at 1 Gbit/s tens of MB of dead
//    Buffers waited for V8's external-memory limit (64 MB) before being freed (bench/node/memory.bench.ts:
//    arrayBuffers 10-35 MB in a node carrying 1 Gbit/s). A scavenge of a nursery this small takes well under a
//    millisecond; one per 2 MiB is about 60 per second at 1 Gbit/s, within the spread of CPU per GB in the bench.
//    (A forced full collection as well, every 32 MiB, cut more but cost 70% more CPU per GB: not taken. Buffers
//    that live long enough to be promoted are avoided instead: src/node/send-window.ts.)
import v8 from 'node:v8';
import vm from 'node:vm';

const DATA_BYTES_PER_SCAVENGE = 2 * 1024 * 1024;
let gcMinor: (() => void) | undefined;
let sinceScavenge = 0;

/** Turns both levers on unless `env[offVar]` is "default" (to compare, or if a workload proves them slower). */
export function capYoungGeneration(offVar: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env[offVar] === 'default') return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as ((o: { type: 'minor' }) => void) | undefined;
  if (typeof gc === 'function') gcMinor = () => gc({ type: 'minor' });
  return true;
}

/** Called on the data path with the bytes just moved: scavenges every DATA_BYTES_PER_SCAVENGE bytes. */
export function noteDataBytes(n: number): void {
  if (!gcMinor) return;
  sinceScavenge += n;
  if (sinceScavenge < DATA_BYTES_PER_SCAVENGE) return;
  sinceScavenge = 0;
  gcMinor();
}
