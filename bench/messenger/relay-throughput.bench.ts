// Relayed stream throughput A -> messenger -> B against the secure channel direct A -> B, in the same run, with
// windows sized to the transfer (after) and with the fixed 1 MiB window of clients before window sizing (before).
// A is this process, B a child process (sink.js), the messenger a real process (the compiled CLI): each end in
// its own process as on separate machines, so the only difference is the extra hop. Goal: relayed >= 50% of
// direct. Also the messenger's peak RSS in each mode (what the relay holds). BENCH_MB overrides the volume,
// BENCH_ROUNDS the rounds (best of).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../../src/net/keys.js';
import { dialSecure } from '../../src/net/tcp.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';
import { loadLine } from '../common/report.js';
import { rssMb } from '../common/process.js';

const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
const MB = 1024 * 1024;
const TOTAL = Number(process.env.BENCH_MB ?? 128) * MB;
const block = Buffer.alloc(256 * 1024, 0x5a);

/** Pushes `bytes` through `w` honouring backpressure, then ends it. */
async function pump(w: Duplex, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += block.length) {
    if (!w.write(block)) await once(w, 'drain');
  }
  w.end();
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}
let cpuReport = '';

let peakRss = 0;
let maxWindow = 0;
async function timed(streams: number, open: () => Promise<Duplex>): Promise<number> {
  peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(m.pid!))), 50);
  const c0 = process.cpuUsage();
  const m0 = cpuMs(m.pid!);
  const b0 = cpuMs(b.pid!);
  b.stdin!.write(`expect ${TOTAL}\n`);
  const all = nextLine(b, /^done (\d+)$/);
  const t0 = performance.now();
  const senders = await Promise.all(Array.from({ length: streams }, open));
  await Promise.all(senders.map((w) => pump(w, TOTAL / streams)));
  maxWindow = Number((await all)[1]);
  const secs = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const pct = (ms: number) => `${(ms / (secs * 10)).toFixed(0)}%`;
  cpuReport = `CPU: A ${pct((c1.user + c1.system) / 1000)}, B ${pct(cpuMs(b.pid!) - b0)}, messenger ${pct(cpuMs(m.pid!) - m0)}`;
  for (const w of senders) w.destroy();
  clearInterval(sampler);
  return TOTAL / MB / secs;
}

function nextLine(p: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: p.stdout! });
    rl.on('line', (l) => {
      const r = re.exec(l);
      if (r) {
        rl.close();
        resolve(r);
      }
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'messenger-bench-'));
const m = spawn(process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : []), CLI, 'messenger', '--listen', '127.0.0.1:0', '--key', join(dir, 'm.json')], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, SIGNAL_CLIENT: 'false' },
});
const children: ChildProcess[] = [m];
process.on('exit', () => {
  for (const c of children) c.kill(process.env.BENCH_PROF ? 'SIGINT' : 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
const addrText = (await nextLine(m, /^messenger listening on (\S+)$/))[1];
const addr = parseMessengerAddress(addrText);

const SINK = fileURLToPath(new URL('./sink.js', import.meta.url));
const b = spawn(process.execPath, [SINK, addrText], { stdio: ['pipe', 'pipe', 'inherit'] });
children.push(b);
const [, bPort, bPk, bFixedPk] = await nextLine(b, /^ready (\d+) (\w+) (\w+)$/);
const bKey = Buffer.from(bPk, 'hex');
const bFixedKey = Buffer.from(bFixedPk, 'hex');

// Direct: one secure channel per stream, A -> B.
const directOpen = () => dialSecure('127.0.0.1', Number(bPort), bKey, { localKey: generateKeyPair() });

// Relayed: the same through the messenger, windows sized (after) and fixed (before: both ends as older clients).
const a = new MessengerClient({ localKey: generateKeyPair(), messengers: [addr] });
const aFixed = new MessengerClient({ localKey: generateKeyPair(), messengers: [addr], autotune: false });
await Promise.all([a.start(), aFixed.start()]);
const relayOpen = () => a.open(bKey, 1);
const fixedOpen = () => aFixed.open(bFixedKey, 1);

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
console.log(loadLine());
console.log(`${TOTAL / MB} MB per run, A, B and the messenger each in its own process; best of ${ROUNDS} alternating rounds`);
const modes: Array<[string, () => Promise<Duplex>]> = [
  ['direct', directOpen],
  ['relayed, fixed 1 MiB window (before)', fixedOpen],
  ['relayed, sized window (after)', relayOpen],
];
for (const streams of [1, 8]) {
  const best = modes.map(() => ({ mbs: 0, cpu: '', rss: 0, window: 0 }));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, [, open]] of modes.entries()) {
      const mbs = await timed(streams, open);
      if (mbs > best[i].mbs) best[i] = { mbs, cpu: cpuReport, rss: peakRss, window: maxWindow };
    }
  }
  console.log(`${streams} stream(s):`);
  for (const [i, [name]] of modes.entries()) {
    const ratio = i === 0 ? '' : `, ${((best[i].mbs / best[0].mbs) * 100).toFixed(0)}% of direct (goal >= 50%)`;
    const w = best[i].window ? `; largest window ${(best[i].window / MB).toFixed(0)} MiB` : '';
    console.log(`  ${name}: ${best[i].mbs.toFixed(0)} MB/s${ratio}; ${best[i].cpu}; messenger peak RSS ${best[i].rss.toFixed(0)} MB${w}`);
  }
}
console.log(loadLine());
await Promise.all([a.close(), aFixed.close()]);
b.kill();
process.exit(0);
