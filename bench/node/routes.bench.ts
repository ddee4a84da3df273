// Route benchmarks, each node its own process: stream throughput over 0, 1 and 3 intermediate nodes against
// plain TCP and a direct secure channel; added round-trip time per hop against a TCP echo's round trip to another
// process; dial-to-first-byte over 3 hops against a TCP connect plus a direct secure handshake and echo; path
// computation on a generated graph of 10,000 nodes and 50,000 transports against a textbook BFS on the same
// graph; CPU-seconds per GB of each node carrying the stream over 1 intermediate node against the direct secure
// channel's (both its ends in this process), and the route's layers in one process without sockets
// (route-stack.ts). Every baseline is measured in the same run.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, parsePublicKey } from '../../src/net/keys.js';
import { dialSecure, listenSecure } from '../../src/net/tcp.js';
import { AppClient } from '../../src/node/sdk/index.js';
import { Graph } from '../../src/nodemanager/graph.js';
import { Cluster, dialRetry, echoApp, waitTransports } from '../../test/node/harness.js';
import { blast } from '../common/blast.js';
import { loadLine, median } from '../common/report.js';
import { cpuSeconds } from '../common/process.js';
import { routeStackCost } from './route-stack.js';

async function plainTcp(): Promise<number> {
  let srvSock: Socket | undefined;
  const server = createServer((s) => (srvSock = s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const c = connect(port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  while (!srvSock) await new Promise((r) => setImmediate(r));
  const mbs = await blast(c, srvSock);
  srvSock.destroy();
  server.close();
  return mbs;
}

/** Bytes `r` reads from now on (blast measures MB/s; CPU per GB needs the bytes). */
function countBytes(r: NodeJS.ReadableStream): { readonly bytes: number } {
  const c = { bytes: 0 };
  r.on('data', (d: Buffer) => (c.bytes += d.length));
  return c;
}

/** MB/s of one direct secure channel, and this process's CPU-seconds per GB for it (both ends are here). */
async function secureDirect(): Promise<{ mbs: number; cpuPerGb: number }> {
  const a = generateKeyPair();
  const b = generateKeyPair();
  let inbound: NodeJS.ReadableStream | undefined;
  const l = await listenSecure({ localKey: b }, (ch) => (inbound = ch));
  const ch = await dialSecure('127.0.0.1', l.address().port, b.publicKey, { localKey: a });
  while (!inbound) await new Promise((r) => setImmediate(r));
  const count = countBytes(inbound);
  const c0 = process.cpuUsage();
  const mbs = await blast(ch, inbound);
  const c = process.cpuUsage(c0);
  await l.close();
  return { mbs, cpuPerGb: (c.user + c.system) / 1e6 / (count.bytes / 1e9) };
}

async function rtt(sock: Socket, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    sock.write('x');
    await new Promise((r) => sock.once('data', r));
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Hops of a shortest path by a plain BFS over string-keyed Maps and arrays: the baseline for findPath. */
function textbookBfs(adj: Map<string, string[]>, from: string, to: string): number {
  const seen = new Set([from]);
  let frontier = [from];
  for (let d = 1; frontier.length; d++) {
    const next: string[] = [];
    for (const u of frontier) {
      for (const v of adj.get(u) ?? []) {
        if (v === to) return d;
        if (!seen.has(v)) {
          seen.add(v);
          next.push(v);
        }
      }
    }
    frontier = next;
  }
  return -1;
}

/** Median ms of findPath and of the textbook BFS for the same 200 random pairs of the same graph. */
function routeComputation(): { findPath: number; bfs: number } {
  const g = new Graph();
  const n = 10_000;
  // mulberry32: a small seeded generator, so every run builds the same graph.
  let seed = 7;
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 1; i < n; i++) g.addEdge(`k${i}`, `k${Math.floor(rnd() * i)}`, rnd() * 10);
  for (let e = n - 1; e < 50_000; e++) g.addEdge(`k${Math.floor(rnd() * n)}`, `k${Math.floor(rnd() * n)}`, rnd() * 10);
  const adj = new Map<string, string[]>();
  for (const { a, b } of g.edges()) {
    if (!adj.has(a)) adj.set(a, []);
    if (!adj.has(b)) adj.set(b, []);
    adj.get(a)!.push(b);
    adj.get(b)!.push(a);
  }
  const pairs = Array.from({ length: 200 }, () => [`k${Math.floor(rnd() * n)}`, `k${Math.floor(rnd() * n)}`]).filter(([a, b]) => a !== b);
  const times: number[] = [];
  const bfsTimes: number[] = [];
  let hops = 0;
  for (const [from, to] of pairs) {
    let t0 = performance.now();
    const path = g.findPath({ from, to });
    times.push(performance.now() - t0);
    hops += path.length - 1;
    t0 = performance.now();
    const bfsHops = textbookBfs(adj, from, to);
    bfsTimes.push(performance.now() - t0);
    if (bfsHops !== path.length - 1) throw new Error(`findPath gave ${path.length - 1} hops, BFS ${bfsHops}, for ${from} -> ${to}`);
  }
  console.log(`  (${g.nodeCount} nodes, ${g.edges().length} transports, mean path ${(hops / pairs.length).toFixed(1)} hops)`);
  return { findPath: median(times), bfs: median(bfsTimes) };
}

/** The baselines' far end in another process, as a route's far end is. */
async function startEchoProcess() {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./echo-process.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const info = JSON.parse(line) as { tcpPort: number; securePort: number; pk: string };
  return { ...info, stop: () => child.stdin!.end() };
}

/** Median ms from dial to the first echoed byte, `n` times. */
async function setupTimes(n: number, dial: () => Promise<Socket | (NodeJS.ReadWriteStream & { destroy(): void })>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const s = await dial();
    s.write('x');
    await once(s, 'data');
    times.push(performance.now() - t0);
    s.destroy();
  }
  return median(times);
}

async function main(): Promise<void> {
  console.log(loadLine());
  const rc = routeComputation();
  console.log(
    `route computation, 10,000 nodes / 50,000 transports: median ${rc.findPath.toFixed(2)} ms (goal < 10 ms); ` +
      `textbook BFS on the same graph and pairs: ${rc.bfs.toFixed(2)} ms (findPath takes ${(rc.findPath / rc.bfs).toFixed(2)}x)`,
  );
  const echo = await startEchoProcess();
  const tcpSock = connect(echo.tcpPort, '127.0.0.1');
  tcpSock.setNoDelay(true);
  await once(tcpSock, 'connect');
  await rtt(tcpSock, 50);
  const tcpRtt = await rtt(tcpSock, 300);
  tcpSock.destroy();
  const echoKey = parsePublicKey(echo.pk);
  const secureSetup = await setupTimes(30, () => dialSecure('127.0.0.1', echo.securePort, echoKey, { localKey: generateKeyPair() }));
  echo.stop();
  console.log(`baselines: TCP echo round trip to another process ${tcpRtt.toFixed(3)} ms (median of 300); ` +
    `TCP connect + secure handshake + first echoed byte ${secureSetup.toFixed(1)} ms (median of 30)`);
  const tcp = await plainTcp();
  const direct = await secureDirect();
  const sec = direct.mbs;
  console.log(`plain TCP:               ${tcp.toFixed(0)} MB/s`);
  console.log(`direct secure channel:   ${sec.toFixed(0)} MB/s (${((sec / tcp) * 100).toFixed(0)}% of TCP), ${direct.cpuPerGb.toFixed(2)} CPU-s per GB (both ends)`);
  const stack = await routeStackCost(3, 200);
  const stackRatio = median(stack.route) / median(stack.direct);
  console.log(
    `route layers in one process, no sockets (route-stack.ts, 3 rounds of 200 MB): ${median(stack.route).toFixed(2)} CPU-s per GB, ` +
      `${stackRatio.toFixed(2)}x one secure channel's ${median(stack.direct).toFixed(2)} (3x = the three channels' ciphers alone)`,
  );

  const c = new Cluster();
  const apps: AppClient[] = [];
  try {
    await c.startCore();
    const n = [await c.node()];
    for (let i = 1; i < 5; i++) n.push(await c.node([n[i - 1].pk]));
    for (let i = 1; i < 5; i++) await waitTransports(n[i], [n[i - 1].pk]);
    const client = await AppClient.connect({ apiFile: n[0].apiFile, name: 'bench' });
    apps.push(client);
    const rtts: Record<number, number> = {};
    let oneIntermediate = 0;
    let cpuRow = '';
    for (const hops of [1, 2, 4]) {
      // A sink that counts, and an echo for round trips.
      const target = n[hops];
      const sinkApp = await AppClient.connect({ apiFile: target.apiFile, name: 'sink', port: 9 });
      apps.push(sinkApp, await echoApp(target.apiFile, 7));
      let inbound: Socket | undefined;
      sinkApp.listen((s) => (inbound = s));
      const out = await dialRetry(client, target.pk, 9, { minHops: hops, maxHops: hops });
      while (!inbound) await new Promise((r) => setTimeout(r, 5));
      const carriers = n.slice(0, hops + 1).map((x) => x.child.pid!);
      const cpu0 = carriers.map(cpuSeconds);
      const app0 = process.cpuUsage();
      const count = countBytes(inbound);
      const mbs = await blast(out, inbound);
      if (hops === 2) {
        oneIntermediate = mbs;
        const gb = count.bytes / 1e9;
        const perGb = carriers.map((pid, i) => (cpuSeconds(pid) - cpu0[i]) / gb);
        const app = process.cpuUsage(app0);
        const appPerGb = (app.user + app.system) / 1e6 / gb;
        const cores = cpus().length;
        const nodes = perGb.reduce((x, y) => x + y, 0);
        cpuRow =
          `  CPU-s per GB over 1 intermediate node: nodes ${perGb.map((x) => x.toFixed(2)).join(' / ')} (sender / middle / receiver), ` +
            `${nodes.toFixed(2)} for the three = ${(nodes / direct.cpuPerGb).toFixed(2)}x the direct secure channel's ${direct.cpuPerGb.toFixed(2)}; ` +
            `the bench app's two sockets ${appPerGb.toFixed(2)}; CPU-bound ceiling on ${cores} cores: ` +
          `${((100 * Math.min(cores / (nodes + appPerGb), 1 / Math.max(...perGb, appPerGb))) * direct.cpuPerGb).toFixed(0)}% of the direct channel (one core)`;
      }
      console.log(
        `route, ${hops - 1} intermediate node(s): ${mbs.toFixed(0)} MB/s (${((mbs / tcp) * 100).toFixed(0)}% of TCP, ${((mbs / sec) * 100).toFixed(0)}% of the direct secure channel)${hops === 2 ? ' (goal >= 150 MB/s)' : ''}`,
      );
      if (hops === 2) console.log(cpuRow);
      const echo = await dialRetry(client, target.pk, 7, { minHops: hops, maxHops: hops });
      await rtt(echo, 50);
      rtts[hops] = await rtt(echo, 300);
      echo.destroy();
    }
    console.log(
      `goal row: stream over a route with 1 intermediate node ${((oneIntermediate / sec) * 100).toFixed(0)}% of the direct secure channel ` +
        `(${oneIntermediate.toFixed(0)} vs ${sec.toFixed(0)} MB/s, same run; goal >= 50%: ${oneIntermediate >= sec / 2 ? 'met' : 'NOT met'})`,
    );
    console.log(`median RTT: 1 hop ${rtts[1].toFixed(3)} ms, 2 hops ${rtts[2].toFixed(3)} ms, 4 hops ${rtts[4].toFixed(3)} ms`);
    const perHop = (rtts[4] - rtts[1]) / 3;
    console.log(
      `added RTT per hop: ${perHop.toFixed(3)} ms (goal < 0.2 ms), ${(perHop / tcpRtt).toFixed(2)}x the TCP echo round trip ` +
        `${tcpRtt.toFixed(3)} ms; a 1-hop route's round trip is ${(rtts[1] / tcpRtt).toFixed(1)}x it`,
    );
    apps.push(await echoApp(n[3].apiFile, 7));
    const setup = await setupTimes(30, () => client.dial(n[3].pk, 7, { minHops: 3, maxHops: 3 }));
    console.log(
      `route setup, dial to first byte over 3 hops: median ${setup.toFixed(1)} ms (goal < 20 ms), ` +
        `${(setup / secureSetup).toFixed(1)}x a TCP connect + direct secure handshake + echo (${secureSetup.toFixed(1)} ms)`,
    );
    console.log(loadLine());
  } finally {
    await Promise.all(apps.map((a) => a.close()));
    await c.stop();
  }
}

await main();
