// A memory lever for the processes on the data path (the node, the VPN apps): V8's young generation. Every
// packet allocates short-lived objects (Buffer views, frames, arrays of pieces), and under load V8 grows its
// semi-spaces to their maximum (16 MiB each on 64-bit, 3 of them reserved and touched): most of what a busy
// process holds beyond its idle size. Objects here die young, so a small nursery costs more, cheaper
// scavenges instead. The maximum semi-space size is only read when the heap is set up, but the growth factor
// is read each time the nursery would grow, so setting it to 1 at startup keeps the nursery at its initial size.
import v8 from 'node:v8';

/** Keeps the nursery at its initial size unless `env[offVar]` is "default" (to compare, or if a workload proves it slower). */
export function capYoungGeneration(offVar: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env[offVar] === 'default') return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
