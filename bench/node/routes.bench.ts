// Route benchmarks, each node its own process: stream throughput over 0, 1 and 3 intermediate nodes against
// plain TCP and a direct secure channel; added round-trip time per hop; dial-to-first-byte over 3 hops;
// path computation on a generated graph of 10,000 nodes and 50,000 transports.
import { createServer, connect, type Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { generateKeyPair } from '../../src/net/keys.js';
import { dialSecure, listenSecure } from '../../src/net/tcp.js';
import { AppClient } from '../../src/node/sdk/index.js';
import { Graph } from '../../src/nodemanager/graph.js';
import { Cluster, dialRetry, echoApp, waitTransports } from '../../test/node/harness.js';

const SECONDS = 2.5;
const CHUNK = Buffer.alloc(256 * 1024, 7);

/** Writes for SECONDS as fast as the reader takes it; returns MB/s as the reader counted it. */
function blast(w: NodeJS.WritableStream & { destroy(): void }, r: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve) => {
    let bytes = 0;
    let started = 0;
    r.on('data', (d: Buffer) => {
      if (!started) started = performance.now();
      bytes += d.length;
    });
    const stopAt = performance.now() + SECONDS * 1000;
    const pump = () => {
      while (performance.now() < stopAt) {
        if (!w.write(CHUNK)) {
          w.once('drain', pump);
          return;
        }
      }
      const secs = (performance.now() - started) / 1000;
      resolve(bytes / 1e6 / secs);
      w.destroy();
    };
    pump();
  });
}

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

async function secureDirect(): Promise<number> {
  const a = generateKeyPair();
  const b = generateKeyPair();
  let inbound: NodeJS.ReadableStream | undefined;
  const l = await listenSecure({ localKey: b }, (ch) => (inbound = ch));
  const ch = await dialSecure('127.0.0.1', l.address().port, b.publicKey, { localKey: a });
  while (!inbound) await new Promise((r) => setImmediate(r));
  const mbs = await blast(ch, inbound);
  await l.close();
  return mbs;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
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

function routeComputation(): number {
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
  const times: number[] = [];
  let hops = 0;
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    hops += g.findPath({ from: `k${Math.floor(rnd() * n)}`, to: `k${Math.floor(rnd() * n)}` }).length - 1;
    times.push(performance.now() - t0);
  }
  console.log(`  (${g.nodeCount} nodes, ${g.edges().length} transports, mean path ${(hops / 200).toFixed(1)} hops)`);
  return median(times);
}

async function main(): Promise<void> {
  console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores (figures drop under load)`);
  const routeMs = routeComputation();
  console.log(`route computation, 10,000 nodes / 50,000 transports: median ${routeMs.toFixed(2)} ms (goal < 10 ms)`);
  const tcp = await plainTcp();
  const sec = await secureDirect();
  console.log(`plain TCP:               ${tcp.toFixed(0)} MB/s`);
  console.log(`direct secure channel:   ${sec.toFixed(0)} MB/s (${((sec / tcp) * 100).toFixed(0)}% of TCP)`);

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
    for (const hops of [1, 2, 4]) {
      // A sink that counts, and an echo for round trips.
      const target = n[hops];
      const sinkApp = await AppClient.connect({ apiFile: target.apiFile, name: 'sink', port: 9 });
      apps.push(sinkApp, await echoApp(target.apiFile, 7));
      let inbound: Socket | undefined;
      sinkApp.listen((s) => (inbound = s));
      const out = await dialRetry(client, target.pk, 9, { minHops: hops, maxHops: hops });
      while (!inbound) await new Promise((r) => setTimeout(r, 5));
      const mbs = await blast(out, inbound);
      console.log(
        `route, ${hops - 1} intermediate node(s): ${mbs.toFixed(0)} MB/s (${((mbs / tcp) * 100).toFixed(0)}% of TCP, ${((mbs / sec) * 100).toFixed(0)}% of the direct secure channel)${hops === 2 ? ' (goal >= 150 MB/s)' : ''}`,
      );
      const echo = await dialRetry(client, target.pk, 7, { minHops: hops, maxHops: hops });
      await rtt(echo, 50);
      rtts[hops] = await rtt(echo, 300);
      echo.destroy();
    }
    console.log(`median RTT: 1 hop ${rtts[1].toFixed(3)} ms, 2 hops ${rtts[2].toFixed(3)} ms, 4 hops ${rtts[4].toFixed(3)} ms`);
    const perHop = (rtts[4] - rtts[1]) / 3;
    console.log(`added RTT per hop: ${perHop.toFixed(3)} ms (goal < 0.2 ms)`);
    apps.push(await echoApp(n[3].apiFile, 7));
    const setup: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const s = await client.dial(n[3].pk, 7, { minHops: 3, maxHops: 3 });
      s.write('x');
      await new Promise((r) => s.once('data', r));
      setup.push(performance.now() - t0);
      s.destroy();
    }
    console.log(`route setup, dial to first byte over 3 hops: median ${median(setup).toFixed(1)} ms (goal < 20 ms)`);
  } finally {
    await Promise.all(apps.map((a) => a.close()));
    await c.stop();
  }
}

await main();
