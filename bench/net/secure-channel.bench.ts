// Secure channel throughput vs plain TCP (same run, same loopback, one stream), and handshakes per second.
// The receiving side runs in a child process (this file with --sink) so sender and receiver each get a core,
// as they would on two machines. Goal: secure >= 40% of plain TCP, judged on one ratio: the median over 3 rounds
// of secure / plain MB/s by the clock, each round measuring plain and then secure back to back (same load).
// Handshake rates are printed against baselines from the same run: plain TCP connects, and the ECDH operations a
// handshake is made of.
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { once } from 'node:events';
import { type Socket, connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { type KeyPair, generateKeyPair, keyPairFromSecret, parsePublicKey, pkToHex } from '../../src/net/keys.js';
import { Handshake } from '../../src/net/handshake.js';
import { NATIVE_SECP256K1, sharedPoint, sharedPointNative, sharedPointNoble } from '../../src/net/secp256k1.js';
import { dialSecure, listenSecure } from '../../src/net/tcp.js';
import { loadLine, median } from '../common/report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CHUNK = 1024 * 1024;

// ---- child: counts what it receives (plain and secure listeners), reports per connection on close ----
async function sink(): Promise<void> {
  const key = generateKeyPair();
  const plain = createServer((s) => count(s));
  plain.listen(0, '127.0.0.1');
  await once(plain, 'listening');
  const secure = await listenSecure({ localKey: key }, (ch) => count(ch));
  const plainPort = (plain.address() as { port: number }).port;
  console.log(JSON.stringify({ plainPort, securePort: secure.address().port, pk: pkToHex(key.publicKey) }));
  function count(s: NodeJS.ReadableStream & { on(ev: string, fn: (...a: never[]) => void): unknown }) {
    let bytes = 0;
    let first = 0;
    let cpu0 = process.cpuUsage();
    s.on('data', (d: Buffer) => {
      if (!first) {
        first = performance.now();
        cpu0 = process.cpuUsage();
      }
      bytes += d.length;
    });
    s.on('end', () => {
      const secs = (performance.now() - first) / 1000;
      console.log(JSON.stringify({ bytes, secs, cpu: cpuSeconds(cpu0) }));
    });
    s.on('error', () => {});
  }
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

// ---- parent ----
/** Writes for `seconds`; returns the sender's CPU seconds. */
async function pump(w: Socket | NodeJS.WritableStream, seconds: number): Promise<number> {
  const buf = Buffer.alloc(CHUNK, 7);
  const cpu0 = process.cpuUsage();
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    if (!w.write(buf)) await once(w as Socket, 'drain');
  }
  w.end();
  return cpuSeconds(cpu0);
}

interface Run {
  wall: number; // MB/s by the clock
  cpu: number; // MB per CPU-second of the busier side: what one stream can do with a core per side
}

function rates(r: { bytes: number; secs: number; cpu: number }, senderCpu: number): Run {
  return { wall: r.bytes / 1e6 / r.secs, cpu: r.bytes / 1e6 / Math.max(r.cpu, senderCpu) };
}

/** The ceiling: node's ChaCha20-Poly1305 alone on this CPU, in MB per CPU-second (each side pays it once). */
function cipherCeiling(): number {
  const key = Buffer.alloc(32, 1);
  const buf = Buffer.alloc(65535, 2);
  const n = 3000;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const c = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: 16 });
    c.update(buf);
    c.final();
  }
  return (n * buf.length) / 1e6 / cpuSeconds(cpu0);
}

async function throughput(): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--sink'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string);
  try {
    const info = (await next()) as { plainPort: number; securePort: number; pk: string };
    const plainRuns: Run[] = [];
    const secureRuns: Run[] = [];
    for (const round of [1, 2, 3]) {
      const ps = connect(info.plainPort, '127.0.0.1');
      ps.setNoDelay(true);
      await once(ps, 'connect');
      const pcpu = await pump(ps, SECONDS);
      const p = rates(await next(), pcpu);

      const ch = await dialSecure('127.0.0.1', info.securePort, parsePublicKey(info.pk), { localKey: generateKeyPair() });
      const scpu = await pump(ch, SECONDS);
      const s = rates(await next(), scpu);
      plainRuns.push(p);
      secureRuns.push(s);
      console.log(
        `round ${round}: plain TCP ${p.wall.toFixed(0)} MB/s (${p.cpu.toFixed(0)} MB/cpu-s), ` +
          `secure ${s.wall.toFixed(0)} MB/s (${s.cpu.toFixed(0)} MB/cpu-s)`,
      );
    }
    const wallRatio = median(plainRuns.map((p, i) => secureRuns[i].wall / p.wall));
    const cpuRatio = median(plainRuns.map((p, i) => secureRuns[i].cpu / p.cpu));
    console.log(
      `goal row: one stream over loopback, secure / plain TCP by the clock, median of 3 paired rounds: ` +
        `${(wallRatio * 100).toFixed(0)}% (plain ${median(plainRuns.map((r) => r.wall)).toFixed(0)} MB/s, ` +
        `secure ${median(secureRuns.map((r) => r.wall)).toFixed(0)} MB/s; goal >= 40%: ${wallRatio >= 0.4 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `for reference, per CPU-second of the busier side (less sensitive to other load): ` +
        `${(cpuRatio * 100).toFixed(0)}% (plain ${median(plainRuns.map((r) => r.cpu)).toFixed(0)}, ` +
        `secure ${median(secureRuns.map((r) => r.cpu)).toFixed(0)} MB/cpu-s)`,
    );
    const ceiling = cipherCeiling();
    console.log(
      `cipher alone (ChaCha20-Poly1305 in node's OpenSSL, 64 KB messages): ${ceiling.toFixed(0)} MB/cpu-s; ` +
        `secure channel reaches ${((median(secureRuns.map((r) => r.cpu)) / ceiling) * 100).toFixed(0)}% of it`,
    );
  } finally {
    child.stdin!.end();
    child.kill();
  }
}

function handshakesInMemory(): void {
  const r: KeyPair = keyPairFromSecret(Buffer.alloc(32, 0x21));
  const i: KeyPair = keyPairFromSecret(Buffer.alloc(32, 0x11));
  // The unit a handshake is made of: one secp256k1 ECDH (3 per side) and one key generation (1 per side).
  const rate = (count: number, fn: () => unknown) => {
    fn();
    const t0 = performance.now();
    for (let k = 0; k < count; k++) fn();
    return count / ((performance.now() - t0) / 1000);
  };
  const peer = generateKeyPair().publicKey;
  const noble = rate(200, () => sharedPointNoble(i.secretKey, peer));
  const native = NATIVE_SECP256K1 ? rate(200, () => sharedPointNative(i.secretKey, peer)) : NaN;
  console.log(
    `one ECDH (compressed k*P): noble ${noble.toFixed(0)}/s, native OpenSSL (whole point in one multiplication) ${native.toFixed(0)}/s ` +
      `(${(native / noble).toFixed(2)}x); in use: ${sharedPoint === sharedPointNative ? 'native' : 'noble'}`,
  );
  const keygen = rate(500, generateKeyPair);
  console.log(`key generation: ${keygen.toFixed(0)}/s`);
  const n = 100;
  let t = performance.now();
  for (let k = 0; k < n; k++) {
    const a = new Handshake('initiator', i, { remotePublicKey: r.publicKey });
    const b = new Handshake('responder', r);
    b.readAct1(a.act1());
    a.readAct2(b.act2());
    b.readAct3(a.act3());
  }
  const hsPerSec = n / ((performance.now() - t) / 1000);
  t = performance.now();
  const pk = r.publicKey;
  for (let k = 0; k < n; k++) new Handshake('initiator', i, { remotePublicKey: pk }).act1();
  const act1PerSec = n / ((performance.now() - t) / 1000);
  // Both sides of a handshake: 6 ECDH (3 each) and 2 ephemeral key generations; the rest is hashing and AEAD.
  const ecdh = sharedPoint === sharedPointNative ? native : noble;
  const cryptoFloor = 1 / (6 / ecdh + 2 / keygen);
  console.log(
    `handshakes in memory, both sides on one core: ${hsPerSec.toFixed(0)}/s, ${((hsPerSec / cryptoFloor) * 100).toFixed(0)}% of ` +
      `the ${cryptoFloor.toFixed(0)}/s its 6 ECDH + 2 key generations allow (same run); initiator act 1 alone: ` +
      `${act1PerSec.toFixed(0)}/s, a full handshake = ${(act1PerSec / hsPerSec).toFixed(1)}x act 1`,
  );
}

async function handshakesOverTcp(): Promise<void> {
  const server = generateKeyPair();
  const client = generateKeyPair();
  const l = await listenSecure({ localKey: server }, (ch) => ch.destroy());
  const n = 100;
  const t = performance.now();
  for (let k = 0; k < n; k++) {
    const ch = await dialSecure('127.0.0.1', l.address().port, server.publicKey, { localKey: client });
    ch.destroy();
  }
  const perSec = n / ((performance.now() - t) / 1000);
  await l.close();
  // Baseline: the same loop with plain TCP connects (the accepting side closes at once), same process.
  const plain = createServer((s) => s.destroy());
  plain.listen(0, '127.0.0.1');
  await once(plain, 'listening');
  const port = (plain.address() as { port: number }).port;
  const t1 = performance.now();
  for (let k = 0; k < n; k++) {
    const s = connect(port, '127.0.0.1');
    await once(s, 'connect');
    s.destroy();
  }
  const connectsPerSec = n / ((performance.now() - t1) / 1000);
  plain.close();
  console.log(
    `handshakes over loopback TCP, sequential, both ends in one process (one core): ${perSec.toFixed(0)}/s; ` +
      `plain TCP connects the same way: ${connectsPerSec.toFixed(0)}/s (a secure connect costs ${(connectsPerSec / perSec).toFixed(0)}x a plain one)`,
  );
}

if (process.argv[2] === '--sink') {
  await sink();
} else {
  console.log(loadLine());
  await throughput();
  handshakesInMemory();
  await handshakesOverTcp();
  console.log(loadLine());
}
