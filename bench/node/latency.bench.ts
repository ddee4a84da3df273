// Latency a route adds to a lone packet: 16-byte probes to the echo service every node runs (port 1, what
// `skywire ping` uses), 0.2 s apart (each process on the path has gone idle in between, as with ping(8)) and
// back to back, over a direct transport (0 intermediate nodes) and over a route with 1 intermediate node. The
// baseline is a plain TCP echo in another process, probed the same way in the same run. Each mode is a cluster
// of node processes started with its own environment (LATENCY_BENCH_MODES, comma-separated names below), run in
// alternating rounds (LATENCY_BENCH_ROUNDS), so levers are compared under the same load.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AppClient, ECHO_PORT } from '../../src/node/sdk/index.js';
import { Cluster, dialRetry, waitTransports } from '../../test/node/harness.js';
import { cannotMeasure, loadLine, median } from '../common/report.js';

const PINGS = Number(process.env.LATENCY_BENCH_PINGS ?? 25);
const GAP_MS = Number(process.env.LATENCY_BENCH_GAP_MS ?? 200);
const ROUNDS = Number(process.env.LATENCY_BENCH_ROUNDS ?? 1);
const PROBE = 16;
const PROBE_TIMEOUT_MS = 5000;

/** The environment and V8 flags of the node processes per mode: the levers to compare. */
const MODES: Record<string, { env: Record<string, string>; execArgv?: string[] }> = {
  default: { env: {} },
  // The memory levers of src/util/young-gen.ts off (a scavenge per 2 MiB moved, the capped nursery).
  'young-gen-off': { env: { SKYWIRE_NODE_YOUNG_GEN: 'default' } },
  // Each part of those levers alone: the nursery kept at its initial size; gc() exposed (without the scavenges,
  // which only the node's own lever calls).
  'nursery-only': { env: { SKYWIRE_NODE_YOUNG_GEN: 'default' }, execArgv: ['--semi-space-growth-factor=1'] },
  'expose-gc-only': { env: { SKYWIRE_NODE_YOUNG_GEN: 'default' }, execArgv: ['--expose-gc'] },
};

/** Median round trip of `n` probes `gapMs` apart (0: back to back) on an echoing stream. */
async function probe(sock: Socket, n: number, gapMs: number): Promise<number> {
  const times: number[] = [];
  const buf = Buffer.alloc(PROBE, 1);
  let got = 0;
  let wake: (() => void) | undefined;
  const onData = (d: Buffer) => {
    got += d.length;
    if (got >= PROBE) wake?.();
  };
  sock.on('data', onData);
  for (let i = 0; i < n; i++) {
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    got = 0;
    let timer: NodeJS.Timeout | undefined;
    const back = new Promise<void>((resolve, reject) => {
      wake = resolve;
      timer = setTimeout(() => reject(new Error(`probe ${i + 1} not echoed within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    });
    const t0 = performance.now();
    sock.write(buf);
    await back.finally(() => clearTimeout(timer));
    times.push(performance.now() - t0);
  }
  sock.off('data', onData);
  return median(times);
}

async function startEchoProcess(): Promise<{ tcpPort: number; stop(): void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./echo-process.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const info = JSON.parse(line) as { tcpPort: number };
  return { tcpPort: info.tcpPort, stop: () => child.stdin!.end() };
}

interface Row {
  idle: number;
  busy: number;
}

/** A chain A - B - C of node processes with `env`; probes from an app on A to B (direct) and C (1 intermediate). */
async function measureMode({ env, execArgv = [] }: (typeof MODES)[string]): Promise<{ direct: Row; route: Row }> {
  const c = new Cluster();
  const apps: AppClient[] = [];
  try {
    await c.startCore();
    const a = await c.node([], [], env, execArgv);
    const b = await c.node([a.pk], [], env, execArgv);
    const cc = await c.node([b.pk], [], env, execArgv);
    await waitTransports(b, [a.pk]);
    await waitTransports(cc, [b.pk]);
    const app = await AppClient.connect({ apiFile: a.apiFile, name: 'latency-bench' });
    apps.push(app);
    const direct = await dialRetry(app, b.pk, ECHO_PORT, { minHops: 1, maxHops: 1 });
    const route = await dialRetry(app, cc.pk, ECHO_PORT, { minHops: 2, maxHops: 2 });
    direct.setNoDelay(true);
    route.setNoDelay(true);
    await probe(direct, 20, 0);
    await probe(route, 20, 0);
    const out = {
      direct: { busy: await probe(direct, PINGS * 4, 0), idle: await probe(direct, PINGS, GAP_MS) },
      route: { busy: await probe(route, PINGS * 4, 0), idle: await probe(route, PINGS, GAP_MS) },
    };
    direct.destroy();
    route.destroy();
    return out;
  } finally {
    await Promise.all(apps.map((x) => x.close()));
    await c.stop();
  }
}

async function main(): Promise<void> {
  const names = (process.env.LATENCY_BENCH_MODES ?? 'default').split(',').filter(Boolean);
  for (const n of names) if (!MODES[n]) cannotMeasure(`unknown mode ${n} in LATENCY_BENCH_MODES (known: ${Object.keys(MODES).join(', ')})`);
  console.log(loadLine());
  console.log(`16-byte probes to the echo service (port 1): ${PINGS} probes ${GAP_MS} ms apart ("idle"), ${PINGS * 4} back to back ("busy"); medians`);
  const echo = await startEchoProcess();
  const tcp = connect(echo.tcpPort, '127.0.0.1');
  tcp.setNoDelay(true);
  await once(tcp, 'connect');
  const results: Record<string, Array<{ base: Row; direct: Row; route: Row }>> = {};
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of names) {
        const base = { busy: await probe(tcp, PINGS * 4, 0), idle: await probe(tcp, PINGS, GAP_MS) };
        const m = await measureMode(MODES[name]);
        (results[name] ??= []).push({ base, ...m });
        const f = (x: number) => x.toFixed(3);
        console.log(
          `round ${r + 1} ${name}: TCP echo idle ${f(base.idle)} busy ${f(base.busy)} ms | direct transport idle ${f(m.direct.idle)} ` +
            `busy ${f(m.direct.busy)} ms | 1 intermediate node idle ${f(m.route.idle)} busy ${f(m.route.busy)} ms`,
        );
      }
    }
  } finally {
    tcp.destroy();
    echo.stop();
  }
  for (const name of names) {
    const rs = results[name];
    const med = (pick: (x: { base: Row; direct: Row; route: Row }) => number) => median(rs.map(pick));
    const added = med((x) => x.route.idle - x.base.idle);
    console.log(
      `${name}: added over the TCP echo, probes ${GAP_MS} ms apart: direct transport +${med((x) => x.direct.idle - x.base.idle).toFixed(3)} ms, ` +
        `1 intermediate node +${added.toFixed(3)} ms (the nodes' share of the VPN ping goal, <= 0.6 ms added over the plain path ` +
        `with 1 intermediate node: docs/vpn.md); back to back: +${med((x) => x.direct.busy - x.base.busy).toFixed(3)} / ` +
        `+${med((x) => x.route.busy - x.base.busy).toFixed(3)} ms`,
    );
  }
  console.log(loadLine());
}

await main().catch((err: Error) => cannotMeasure(err.message));
