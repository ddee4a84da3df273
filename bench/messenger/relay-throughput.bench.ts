// Relayed stream throughput A -> messenger -> B against the secure channel direct A -> B, in the same run.
// The messenger is a real process (the compiled CLI); A and B live in this process in both cases, so the
// only difference is the extra hop. Goal: relayed >= 50% of direct. BENCH_MB overrides the volume.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../../src/net/keys.js';
import { dialSecure, listenSecure } from '../../src/net/tcp.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';

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

// Every receiving stream counts into one total; a run ends when all its bytes arrived at B.
let received = 0;
let arrived: (() => void) | undefined;
function sink(r: Duplex): void {
  r.on('data', (d: Buffer) => {
    received += d.length;
    if (received >= TOTAL) arrived?.();
  });
  r.on('error', () => {});
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}
let cpuReport = '';

async function timed(streams: number, open: () => Promise<Duplex>): Promise<number> {
  received = 0;
  const c0 = process.cpuUsage();
  const m0 = cpuMs(m.pid!);
  const all = new Promise<void>((resolve) => (arrived = resolve));
  const t0 = performance.now();
  const senders = await Promise.all(Array.from({ length: streams }, open));
  await Promise.all(senders.map((w) => pump(w, TOTAL / streams)));
  await all;
  const secs = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  cpuReport = `CPU: A+B process ${((c1.user + c1.system) / 10 / (secs * 1000)).toFixed(0)}%, messenger ${((cpuMs(m.pid!) - m0) / (secs * 10)).toFixed(0)}%`;
  for (const w of senders) w.destroy();
  return TOTAL / MB / secs;
}

const dir = mkdtempSync(join(tmpdir(), 'messenger-bench-'));
const m = spawn(process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : []), CLI, 'messenger', '--listen', '127.0.0.1:0', '--key', join(dir, 'm.json')], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, SIGNAL_CLIENT: 'false' },
});
process.on('exit', () => {
  m.kill(process.env.BENCH_PROF ? 'SIGINT' : 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
const addrText = await new Promise<string>((resolve) =>
  createInterface({ input: m.stdout! }).on('line', (l) => l.startsWith('messenger listening on ') && resolve(l.split(' ').pop()!)),
);
const addr = parseMessengerAddress(addrText);

// Direct: one secure channel per stream.
const bKey = generateKeyPair();
const direct = await listenSecure({ localKey: bKey, port: 0 }, sink);
const d = direct.address();
const directOpen = () => dialSecure(d.host, d.port, bKey.publicKey, { localKey: generateKeyPair() });

// Relayed: the same through the messenger.
const window = process.env.BENCH_WINDOW ? Number(process.env.BENCH_WINDOW) : undefined;
const a = new MessengerClient({ localKey: generateKeyPair(), messengers: [addr], window });
const b = new MessengerClient({ localKey: bKey, messengers: [addr], window });
await Promise.all([a.start(), b.start()]);
b.listen(1, sink);
const relayOpen = () => a.open(b.publicKey, 1);

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
console.log(`${TOTAL / MB} MB per run, A and B in this process, messenger in its own process; best of ${ROUNDS} alternating rounds`);
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
await Promise.all([a.close(), b.close(), direct.close()]);
process.exit(0);
