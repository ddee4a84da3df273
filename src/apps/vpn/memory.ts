// The VPN apps' memory lever: V8's young generation. Every packet allocates short-lived objects (a Buffer
// view, a frame, an array of packets), and under load V8 grows its semi-spaces to their maximum (16 MiB
// each on 64-bit, 3 of them reserved and touched): most of what a busy vpn-client/vpn-server held beyond
// its idle size. Objects here die young, so a small nursery costs a few more, cheaper scavenges instead.
// The maximum semi-space size is only read when the heap is set up, but the growth factor is read each
// time the nursery would grow, so setting it to 1 at startup keeps the nursery at its initial size.
import v8 from 'node:v8';

/** `SKYWIRE_VPN_YOUNG_GEN=default` leaves V8 as it is (to compare, or if a workload proves it slower). */
export function capYoungGeneration(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.SKYWIRE_VPN_YOUNG_GEN === 'default') return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
