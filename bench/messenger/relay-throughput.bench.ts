// Relayed stream throughput A -> messenger -> B against the secure channel direct A -> B, in the same run.
// A is this process, B a child process (sink.js), the messenger a real process (the compiled CLI): each end in
// its own process as on separate machines, so the only difference is the extra hop. Goal: relayed >= 50% of
// direct. BENCH_MB overrides the volume, BENCH_ROUNDS the rounds (best of).
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

async function timed(streams: number, open: () => Promise<Duplex>): Promise<number> {
  const c0 = process.cpuUsage();
  const m0 = cpuMs(m.pid!);
  const b0 = cpuMs(b.pid!);
  b.stdin!.write(`expect ${TOTAL}\n`);
  const all = nextLine(b, /^done$/);
  const t0 = performance.now();
  const senders = await Promise.all(Array.from({ length: streams }, open));
  await Promise.all(senders.map((w) => pump(w, TOTAL / streams)));
  await all;
  const secs = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const pct = (ms: number) => `${(ms / (secs * 10)).toFixed(0)}%`;
  cpuReport = `CPU: A ${pct((c1.user + c1.system) / 1000)}, B ${pct(cpuMs(b.pid!) - b0)}, messenger ${pct(cpuMs(m.pid!) - m0)}`;
  for (const w of senders) w.destroy();
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
const [, bPort, bPk] = await nextLine(b, /^ready (\d+) (\w+)$/);
const bKey = Buffer.from(bPk, 'hex');

// Direct: one secure channel per stream, A -> B.
const directOpen = () => dialSecure('127.0.0.1', Number(bPort), bKey, { localKey: generateKeyPair() });

// Relayed: the same through the messenger.
const window = process.env.BENCH_WINDOW ? Number(process.env.BENCH_WINDOW) : undefined;
const a = new MessengerClient({ localKey: generateKeyPair(), messengers: [addr], window });
await a.start();
const relayOpen = () => a.open(bKey, 1);

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
console.log(loadLine());
console.log(`${TOTAL / MB} MB per run, A, B and the messenger each in its own process; best of ${ROUNDS} alternating rounds`);
for (const streams of [1, 8]) {
  let bestDirect = 0;
  let bestRelay = 0;
  let directCpu = '';
  let relayCpu = '';
  for (let r = 0; r < ROUNDS; r++) {
    const dm = await timed(streams, directOpen);
    if (dm > bestDirect) [bestDirect, directCpu] = [dm, cpuReport];
    const rm = await timed(streams, relayOpen);
    if (rm > bestRelay) [bestRelay, relayCpu] = [rm, cpuReport];
  }
  console.log(
    `${streams} stream(s): direct ${bestDirect.toFixed(0)} MB/s, relayed ${bestRelay.toFixed(0)} MB/s, ` +
      `ratio ${((bestRelay / bestDirect) * 100).toFixed(0)}% (goal >= 50%)`,
  );
  console.log(`  direct ${directCpu}; relayed ${relayCpu}`);
}
console.log(loadLine());
await a.close();
b.kill();
process.exit(0);
