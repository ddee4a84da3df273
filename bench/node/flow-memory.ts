// Resident memory of node processes carrying a paced stream (1 Gbit/s by default) over a route with one
// intermediate node: A -> R -> C, each node its own process (test/node/harness.ts). Shared by
// bench/node/memory.bench.ts and bench/vpn/vpn.bench.ts.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { AppClient } from '../../src/node/sdk/index.js';
import { type Cluster, dialRetry, waitTransports } from '../../test/node/harness.js';

export interface Mem {
  rss: number;
  anon: number;
  file: number;
  /** Proportional set size: private pages plus each shared page divided by the processes mapping it. */
  pss: number;
}

/** Memory of a process from /proc/<pid>/status and smaps_rollup, in MB. */
export function memOf(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (text: string, k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  const pss = kb(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
  return { rss: kb(s, 'VmRSS'), anon: kb(s, 'RssAnon'), file: kb(s, 'RssFile'), pss };
}

export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export interface FlowMemory {
  /** RSS of each node (A, R, C) once its transports are up, before the flow. */
  idle: Mem[];
  /** The largest RSS of each node sampled during the flow. */
  peak: Mem[];
  /** Bits per second the reader counted. */
  bitsPerSecond: number;
  samples: number;
  /** CPU-seconds of the three nodes per GB carried. */
  cpuPerGb: number;
}

/** Writes `bitsPerSecond` worth of 64 KiB chunks every 5 ms for `seconds`, respecting backpressure. */
function pacedWrite(w: Socket, bitsPerSecond: number, seconds: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const start = performance.now();
  let sent = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const elapsed = (performance.now() - start) / 1000;
      if (elapsed >= seconds) {
        resolve();
        return;
      }
      const due = (bitsPerSecond / 8) * elapsed;
      while (sent < due) {
        sent += chunk.length;
        if (!w.write(chunk)) {
          w.once('drain', tick);
          return;
        }
      }
      setTimeout(tick, 5);
    };
    tick();
  });
}

/** `env`: the nodes' environment (e.g. a lever turned off); the nodes are stopped (SIGTERM) at the end. */
export async function flowMemory(
  c: Cluster,
  o: { seconds: number; bitsPerSecond: number; sampleMs?: number; env?: Record<string, string> },
): Promise<FlowMemory> {
  const nodeC = await c.node([], [], o.env);
  const nodeR = await c.node([nodeC.pk], [], o.env);
  const nodeA = await c.node([nodeR.pk], [], o.env);
  await waitTransports(nodeA, [nodeR.pk]);
  await waitTransports(nodeR, [nodeC.pk]);
  const pids = [nodeA, nodeR, nodeC].map((n) => n.child.pid!);
  const sink = await AppClient.connect({ apiFile: nodeC.apiFile, name: 'sink', port: 9 });
  const app = await AppClient.connect({ apiFile: nodeA.apiFile, name: 'flow' });
  try {
    let inbound: Socket | undefined;
    let received = 0;
    const gotInbound = new Promise<void>((resolve) =>
      sink.listen((s) => {
        inbound = s;
        s.on('data', (d: Buffer) => (received += d.length));
        resolve();
      }),
    );
    const out = await dialRetry(app, nodeC.pk, 9, { minHops: 2, maxHops: 2 }, 20_000);
    out.write('x');
    await gotInbound;
    const idle = pids.map(memOf);
    const peak = idle.map(() => ({ rss: 0, anon: 0, file: 0, pss: 0 }));
    let samples = 0;
    const sample = () => {
      samples++;
      pids.forEach((pid, i) => {
        const m = memOf(pid);
        if (m.rss > peak[i].rss) peak[i] = m;
      });
    };
    const timer = setInterval(sample, o.sampleMs ?? 200);
    const r0 = received;
    const t0 = performance.now();
    const cpu0 = pids.map(cpuSeconds);
    await pacedWrite(out, o.bitsPerSecond, o.seconds);
    const bitsPerSecond = ((received - r0) * 8) / ((performance.now() - t0) / 1000);
    const cpu = pids.map(cpuSeconds).reduce((sum, x, i) => sum + x - cpu0[i], 0);
    const cpuPerGb = cpu / ((received - r0) / 1e9);
    clearInterval(timer);
    sample();
    out.destroy();
    inbound?.destroy();
    return { idle, peak, bitsPerSecond, samples, cpuPerGb };
  } finally {
    await Promise.all([sink.close(), app.close()]);
    await Promise.all([nodeA, nodeR, nodeC].map((n) => n.kill()));
  }
}
