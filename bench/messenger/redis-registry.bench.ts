// Four messengers sharing one registry on a real Redis, with many registered clients (each its own secure
// connection with an announced entry, from child processes: many-clients.js, one per messenger). Measures, in one
// run: RSS per messenger and Redis memory (INFO memory); `lookup` round trips from a client on M1 of keys on other
// messengers (p50/p99) against lookups of keys on M1 itself (the baseline); stream opens across messengers against
// opens on one messenger; and the failover time: kill -9 of the messenger a client uses until another client can
// open a stream to it again (through its standby messenger).
// Goals (issue 11): lookup p99 < 5 ms; < 300 MB per messenger at 25,000 clients each (100,000 in all); failover
// < 5 s. BENCH_CLIENTS (default 2000 in all: registration is bound by the handshakes' CPU, both ends on these 2
// cores) sets the count; the memory verdict is only given at 100,000, below that the per-client cost and its
// extrapolation to 25,000 per messenger are printed, marked as such. Clients dial from many loopback addresses
// (many-clients.ts), so the per-source handshake admission sees many sources, as it would across machines.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { generateKeyPair } from '../../src/net/keys.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { parseMessengerAddress, type MessengerAddress } from '../../src/messenger/address.js';
import { cannotMeasure, loadLine } from '../common/report.js';
import { firstLine, rssMb } from '../common/process.js';
import { startRedis } from '../../test/helpers/redis-server.js';

const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
const CHILD = fileURLToPath(new URL('./many-clients.js', import.meta.url));
const TOTAL = Number(process.env.BENCH_CLIENTS ?? 2000);
const MESSENGERS = 4;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 500);
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 16); // handshakes in flight per child
const deadline = Date.now() + Number(process.env.BENCH_SECONDS ?? 300) * 1000;


function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))];
}

const row = (name: string, xs: number[]) => `${name}: p50 ${pct(xs, 50).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms (${xs.length} rounds)`;

const dir = mkdtempSync(join(tmpdir(), 'messenger-redis-bench-'));
const children: ChildProcess[] = [];
const redis = await startRedis();
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
  void redis.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);

console.log(loadLine());
const messengers: Array<{ proc: ChildProcess; text: string; addr: MessengerAddress }> = [];
for (let i = 0; i < MESSENGERS; i++) {
  const proc = spawn(process.execPath, [CLI, 'messenger', '--listen', '127.0.0.1:0', '--key', join(dir, `m${i}.json`), '--redis', redis.url()], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SIGNAL_CLIENT: 'false' },
  });
  children.push(proc);
  const text = (await firstLine(proc, /^messenger listening on (\S+)$/))[1];
  messengers.push({ proc, text, addr: parseMessengerAddress(text) });
}
const idle = messengers.map((m) => rssMb(m.proc.pid!));

const t0 = performance.now();
const per = Math.ceil(TOTAL / MESSENGERS);
const procs = messengers.map((m, i) => {
  const p = spawn(process.execPath, [CHILD, m.text, String(Math.min(per, TOTAL - i * per)), String(PARALLEL), String(i), String(deadline)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(p);
  return p;
});
const counts = (await Promise.all(procs.map((p) => firstLine(p, /^done (\d+)$/)))).map((m) => Number(m[1]));
const registered = counts.reduce((a, b) => a + b, 0);
const secs = (performance.now() - t0) / 1000;
console.log(`registered ${registered} clients over ${MESSENGERS} messengers in ${secs.toFixed(1)} s (${(registered / secs).toFixed(0)} per second)`);
// Fewer than asked within BENCH_SECONDS: measure at the count reached (the largest this machine allowed), and
// exit 1 at the end, since the goal's size was not measured.
const partial = registered < TOTAL;
if (partial) console.log(`only ${registered} of ${TOTAL} clients registered within BENCH_SECONDS: the figures below are at ${registered}`);
if (!registered) cannotMeasure('no client registered');

const rss = messengers.map((m) => rssMb(m.proc.pid!));
const r = new Redis(redis.port, '127.0.0.1');
const info = await r.info('memory');
const redisMb = Number(/used_memory:(\d+)/.exec(info)![1]) / 1024 / 1024;
const redisRssMb = Number(/used_memory_rss:(\d+)/.exec(info)![1]) / 1024 / 1024;
r.disconnect();

// Probes: a client on M1 looking up keys; the tag in each bench entry's address says its messenger.
const [m1, m2, m3, m4] = messengers;
const probe = new MessengerClient({ localKey: generateKeyPair(), messengers: [m1.addr] });
await probe.start();
const local: string[] = [];
const remote: string[] = [];
for (let off = 0; (local.length < 100 || remote.length < 100) && off < registered; off += 100) {
  const page = await probe.query({ service: 'bench', offset: off, limit: 100 });
  for (const e of page.entries) (e.addresses[0]?.startsWith('10.0.') ? local : remote).push(e.pk);
}
if (!local.length || !remote.length) cannotMeasure('the query found no bench keys on M1 or on the other messengers');
const time = async (xs: number[], f: () => Promise<unknown>) => {
  const s = performance.now();
  await f();
  xs.push(performance.now() - s);
};
const lookLocal: number[] = [];
const lookRemote: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  await time(lookLocal, () => probe.lookup(local[i % local.length]));
  await time(lookRemote, async () => {
    if (!(await probe.lookup(remote[i % remote.length]))) throw new Error('a registered key was not found');
  });
}

// Stream opens: to a listener on M1 (one messenger) and on M2 (across).
const listener = async (m: MessengerAddress) => {
  const c = new MessengerClient({ localKey: generateKeyPair(), messengers: [m] });
  await c.start();
  c.listen(1, (s) => s.on('error', () => {}).end());
  return c;
};
const near = await listener(m1.addr);
const far = await listener(m2.addr);
const openOne: number[] = [];
const openAcross: number[] = [];
const openRounds = Math.min(ROUNDS, 200);
for (let i = 0; i < openRounds; i++) {
  for (const [xs, to] of [[openOne, near], [openAcross, far]] as const) {
    await time(xs, async () => {
      const s = await probe.open(to.publicKey, 1);
      s.on('error', () => {});
      s.resume();
      s.end();
    });
  }
}

// Failover: a client on M4 with M3 as its standby; kill -9 M4; time until the probe on M1 opens a stream to it.
const mobile = new MessengerClient({ localKey: generateKeyPair(), messengers: [m4.addr, m3.addr], reconnect: { initialMs: 100, maxMs: 2000 } });
await mobile.start();
mobile.listen(1, (s) => s.on('error', () => {}).end());
await probe.open(mobile.publicKey, 1).then((s) => s.on('error', () => {}).resume());
const killedAt = performance.now();
m4.proc.kill('SIGKILL');
let failoverMs = NaN;
for (let tries = 0; performance.now() - killedAt < 20_000; tries++) {
  try {
    const s = await probe.open(mobile.publicKey, 1);
    s.on('error', () => {}).resume();
    failoverMs = performance.now() - killedAt;
    break;
  } catch {
    await new Promise((res) => setTimeout(res, 20)); // a bench polling for the first success, not a test
  }
}

console.log(`messenger RSS idle: ${idle.map((x) => x.toFixed(0)).join(' / ')} MB; with ${counts.join(' / ')} clients: ${rss.map((x) => x.toFixed(0)).join(' / ')} MB`);
const perClientKiB = (rss.reduce((a, b) => a + b, 0) - idle.reduce((a, b) => a + b, 0)) / registered * 1024;
console.log(`per client: ${perClientKiB.toFixed(1)} KiB of messenger RSS above idle; Redis: ${redisMb.toFixed(1)} MB used (${((redisMb * 1024 * 1024) / registered).toFixed(0)} B per client), ${redisRssMb.toFixed(1)} MB RSS`);
console.log(row('lookup of a key on M1 itself (baseline)', lookLocal));
console.log(row('lookup of a key on another messenger', lookRemote));
console.log(row('stream open on one messenger (baseline)', openOne));
console.log(row('stream open across messengers', openAcross) + ` (${(pct(openAcross, 50) / pct(openOne, 50)).toFixed(2)}x the baseline p50)`);
console.log(`goal row: lookup of a key on another messenger p99 ${pct(lookRemote, 99).toFixed(2)} ms (goal < 5 ms: ${pct(lookRemote, 99) < 5 ? 'met' : 'NOT met'})`);
const maxRss = Math.max(...rss);
if (Math.max(...counts) < 25_000) {
  const idleMax = Math.max(...idle);
  console.log(
    `extrapolated, not measured: ${(idleMax + (perClientKiB * 25_000) / 1024).toFixed(0)} MB per messenger at 25,000 clients ` +
      `(idle ${idleMax.toFixed(0)} MB + ${perClientKiB.toFixed(1)} KiB x 25,000); Redis ${((redisMb * 100_000) / registered).toFixed(0)} MB at 100,000`,
  );
}
console.log(
  `goal row: messenger RSS ${maxRss.toFixed(0)} MB at ${Math.max(...counts)} clients each (goal < 300 MB at 25,000 each: ` +
    `${Math.max(...counts) < 25_000 ? `not measured at this count, BENCH_CLIENTS=100000 measures it` : maxRss < 300 ? 'met' : 'NOT met'})`,
);
console.log(`goal row: failover (kill -9 of a client's messenger to a stream opened to it again) ${failoverMs.toFixed(0)} ms (goal < 5000 ms: ${failoverMs < 5000 ? 'met' : 'NOT met'})`);
console.log(loadLine());
await Promise.all([probe.close(), near.close(), far.close(), mobile.close()]);
for (const p of procs) p.stdin!.end();
cleanup();
if (partial) console.error(`bench failed: the goal's size (${TOTAL} clients) was not reached, only ${registered}`);
process.exit(Number.isNaN(failoverMs) || partial ? 1 : 0);
