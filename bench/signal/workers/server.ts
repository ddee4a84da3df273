// Bench worker: a signal server in its own process, so its RSS is its own. Prints {"port":P}, then for each
// command line {"clients":N,"pings":K,"echoPort":E} on stdin waits for N registered clients and prints the
// ping round trips (one client at a time, random ids), the same for a plain TCP echo, and its RSS.
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { SignalServer } from '../../../src/signal/server.js';

const server = new SignalServer({ port: 0, allowUntokened: true });
const { port } = await server.listen();
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

function stats(samples: number[]): { median: number; p99: number } {
  const s = samples.slice().sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] };
}

async function echoRoundTrips(echoPort: number, n: number): Promise<number[]> {
  const sock = connect(echoPort, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      sock.once('data', () => resolve());
      sock.write('x');
    });
    samples.push(performance.now() - t0);
  }
  sock.destroy();
  return samples;
}

async function untilRegistered(n: number): Promise<void> {
  while (server.clients().length < n) await new Promise((r) => server.once('register', r));
}

out({ port, idleRss: process.memoryUsage().rss });
for await (const line of createInterface({ input: process.stdin })) {
  const { clients, pings, echoPort } = JSON.parse(line) as { clients: number; pings: number; echoPort: number };
  await untilRegistered(clients);
  const ids = server.clients().map((c) => c.id);
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  for (let i = 0; i < 200; i++) await server.ping(pick()); // warm-up
  const echo = await echoRoundTrips(echoPort, pings);
  const ping: number[] = [];
  for (let i = 0; i < pings; i++) ping.push(await server.ping(pick()));
  // Every client at once: how long until the last answer is in.
  const t0 = performance.now();
  await Promise.all(ids.map((id) => server.ping(id)));
  const all = performance.now() - t0;
  global.gc?.();
  out({ clients: ids.length, ping: stats(ping), echo: stats(echo), allAtOnceMs: all, rss: process.memoryUsage().rss });
}
await server.close();
