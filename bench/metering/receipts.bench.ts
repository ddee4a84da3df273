// Metering's costs, each against its baseline in the same run (docs/metering.md, Measured):
//  - throughput over a 1-intermediate-node route with receipts on vs off (alternating meshes; goal: within 2%);
//  - the 1 GB acceptance: A -> B -> C, B's statement verifies and claims within 0.1% of what C signed;
//  - ledger growth per GB forwarded and per route (goal after compaction: < 10 KB per GB; compaction not done);
//  - verify speed of a statement of 10,000 receipts and of 100,000 receipts, @noble/curves vs OpenSSL vs
//    libsecp256k1 in WebAssembly (goal: 10k receipts per second).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { Socket } from 'node:net';
import { generateKeyPair, readKeyFile } from '../../src/net/keys.js';
import { AppClient } from '../../src/node/sdk/index.js';
import { decodeReceipt, signReceipt, verifyRawFast, verifyReceipt } from '../../src/node/metering/receipt.js';
import { verifyRawLibsecp } from '../../src/node/metering/verify-libsecp.js';
import { verifyReceiptsParallel } from '../../src/node/metering/verify-pool.js';
import { buildStatement, verifyStatement, verifyStatementFast, type Statement } from '../../src/node/metering/statement.js';
import { HOUR_MS, Ledger, type LedgerRecord } from '../../src/node/metering/ledger.js';
import { CLI, Cluster, dialRetry, waitTransports } from '../../test/node/harness.js';
import { cannotMeasure, loadLine, median } from '../common/report.js';

const CHUNK = Buffer.alloc(256 * 1024, 7);

/** Sends `total` bytes A -> C over B; resolves with MB/s as C counted them, once the stream closed. */
async function send(client: AppClient, sinkApp: AppClient, to: string, total: number): Promise<number> {
  const got = new Promise<number>((resolve, reject) => {
    sinkApp.listen((s: Socket) => {
      let n = 0;
      let t0 = 0;
      s.on('data', (d: Buffer) => {
        if (!t0) t0 = performance.now();
        n += d.length;
      });
      s.on('end', () => {
        s.end();
        resolve(n / 1e6 / ((performance.now() - t0) / 1000));
      });
      s.on('error', reject);
    });
  });
  const out = await dialRetry(client, to, 9, { minHops: 2, maxHops: 2 });
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    out.on('error', reject);
    const more = () => {
      while (sent < total) {
        sent += CHUNK.length;
        if (!out.write(CHUNK)) return void out.once('drain', more);
      }
      out.end(resolve);
    };
    more();
  });
  const mbs = await got;
  out.destroy();
  return mbs;
}

async function mesh(metering: boolean) {
  const c = new Cluster();
  await c.startCore();
  const extra = metering ? ['--metering'] : [];
  const a = await c.node([], extra);
  const b = await c.node([a.pk], extra);
  const cc = await c.node([b.pk], extra);
  await waitTransports(b, [a.pk]);
  await waitTransports(cc, [b.pk]);
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'bench' });
  const sink = await AppClient.connect({ apiFile: cc.apiFile, name: 'sink', port: 9 });
  return {
    c, a, b, cc, client, sink,
    stop: async () => {
      await client.close();
      await sink.close();
      await c.stop();
    },
  };
}

/** CPU time (user + system) of a process and its threads so far, ms (Linux /proc). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (100 per second)
}

function duBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0]);
}

/**
 * METERING_BENCH: `verify` (the verify row alone, seconds, no mesh), `throughput` (no 1 GiB acceptance), `all`.
 * METERING_BENCH_MIB and METERING_BENCH_ROUNDS size the throughput runs (default 128 MiB x 6).
 */
const PART = process.env.METERING_BENCH ?? 'all';
const RUN_MIB = Number(process.env.METERING_BENCH_MIB ?? 128);
const ROUNDS = Number(process.env.METERING_BENCH_ROUNDS ?? 6);

async function main(): Promise<void> {
  console.log(loadLine());
  if (PART !== 'verify') await meshRows();
  await verifyRow();
  console.log(loadLine());
}

type Mesh = Awaited<ReturnType<typeof mesh>>;

async function meshRows(): Promise<void> {
  const on = await mesh(true);
  const off = await mesh(false);
  // A second mesh without metering: the control, what two identical meshes differ by on this machine now.
  const ctl = await mesh(false);
  try {
    const size = RUN_MIB << 20;
    for (const m of [on, off, ctl]) await send(m.client, m.sink, m.cc.pk, 32 << 20); // warm up
    const meshes: Array<{ m: Mesh; name: string; runs: number[]; cpu: number[] }> = [
      { m: on, name: 'on', runs: [], cpu: [0, 0, 0] },
      { m: off, name: 'off', runs: [], cpu: [0, 0, 0] },
      { m: ctl, name: 'control', runs: [], cpu: [0, 0, 0] },
    ];
    // CPU per MB of each mesh's three nodes (the sum over the runs): steadier than MB/s on a shared machine.
    const cpu = (m: Mesh) => [m.a, m.b, m.cc].map((n) => cpuMs(n.child.pid!));
    // Rotating order: on this shared machine the later of back-to-back runs was measured ~8% slower.
    for (let i = 0; i < ROUNDS; i++) {
      for (let j = 0; j < meshes.length; j++) {
        const x = meshes[(i + j) % meshes.length];
        const c0 = cpu(x.m);
        x.runs.push(await send(x.m.client, x.m.sink, x.m.cc.pk, size));
        cpu(x.m).forEach((v, k) => (x.cpu[k] += v - c0[k]));
      }
    }
    const mb = (ROUNDS * size) / 1e6;
    const per = (acc: number[]) => acc.map((x) => (x / mb).toFixed(2)).join(' / ');
    const pct = (a: number, b: number) => `${a >= b ? '+' : ''}${((a / b - 1) * 100).toFixed(1)}%`;
    const [mOn, mOff, mCtl] = meshes;
    console.log(`CPU per MB, source / middle / exit node: receipts off ${per(mOff.cpu)} ms, on ${per(mOn.cpu)} ms, control (off) ${per(mCtl.cpu)} ms`);
    console.log(`  on vs off: middle ${pct(mOn.cpu[1], mOff.cpu[1])}, exit ${pct(mOn.cpu[2], mOff.cpu[2])}, all three ${pct(sum(mOn.cpu), sum(mOff.cpu))}; ` +
      `control vs off: middle ${pct(mCtl.cpu[1], mOff.cpu[1])}, exit ${pct(mCtl.cpu[2], mOff.cpu[2])}, all three ${pct(sum(mCtl.cpu), sum(mOff.cpu))}`);
    const runs = (x: { runs: number[] }) => `${median(x.runs).toFixed(0)} MB/s (${x.runs.map((v) => v.toFixed(0)).join(' ')})`;
    console.log(`1 intermediate node, ${RUN_MIB} MiB x${ROUNDS} rotating: receipts off ${runs(mOff)}, on ${runs(mOn)}, control ${runs(mCtl)}: ` +
      `on ${pct(median(mOn.runs), median(mOff.runs))}, control ${pct(median(mCtl.runs), median(mOff.runs))} (goal: on within 2%)`);
    const counters = async (key: string) => {
      const v = JSON.parse(execFileSync(process.execPath, [CLI, 'metering', '--key', key, '--json']).toString()) as { counters: Record<string, unknown> };
      return v.counters;
    };
    for (const [name, i] of [['middle', 1], ['exit', 2]] as const) {
      console.log(`  ${name} node's receipts and links (whole run): ${JSON.stringify(await counters(join(on.c.dir, `node${i}.json`)))}`);
    }
    if (PART === 'throughput') return;

    // The acceptance: 1 GiB, B's statement against C's receipts.
    const dirB = join(on.c.dir, 'node1.metering');
    const before = duBytes(dirB);
    const t0 = Date.now() - 1000;
    const gb = await send(on.client, on.sink, on.cc.pk, 1 << 30);
    const file = join(on.c.dir, 'b.json');
    let s: Statement | undefined;
    for (let i = 0; i < 50; i++) {
      execFileSync(process.execPath, [CLI, 'metering', 'export', '--key', join(on.c.dir, 'node1.json'), '--period', `${new Date(t0).toISOString()}..${new Date(Date.now() + 60_000).toISOString()}`, '-o', file]);
      s = JSON.parse(readFileSync(file, 'utf8')) as Statement;
      const v = verifyStatement(s);
      if (v.ok) break;
      await new Promise((r) => setTimeout(r, 200)); // the final receipt is on its way (bounded: 10 s)
    }
    const v = verifyStatement(s);
    if (!v.ok) cannotMeasure(`B's statement did not verify: ${JSON.stringify(v.issues).slice(0, 500)}`);
    const big = v.entries.filter((e) => e.peer === on.cc.pk).sort((x, y) => y.claimedBytes - x.claimedBytes)[0];
    const diff = Math.abs(big.claimedBytes - big.signedBytes) / big.signedBytes;
    console.log(`1 GiB A -> B -> C at ${gb.toFixed(0)} MB/s: B's statement verifies; B claims ${big.claimedBytes} bytes on the route to C, ` +
      `C signed ${big.signedBytes} (${(diff * 100).toFixed(4)}% apart; goal within 0.1%)`);
    // The ledger: B stops (its last records written), then its ledger is compacted as a node does every hour
    // for hours older than two days; here every hour is made old (afterMs 0), so what is left is the daily form.
    const raw = duBytes(dirB);
    await on.b.kill('SIGTERM');
    const ledger = new Ledger(dirB);
    await ledger.open();
    await ledger.compact(Date.now(), 0);
    const recs = await ledger.records();
    await ledger.close();
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const vc = verifyStatement(buildStatement(readKeyFile(join(on.c.dir, 'node1.json')), recs, { fromMs: day, toMs: day + 86_400_000 }));
    if (!vc.ok) cannotMeasure(`the compacted ledger's statement did not verify: ${JSON.stringify(vc.issues).slice(0, 300)}`);
    const compacted = duBytes(dirB);
    const outs = recs.filter((r) => r.dir === 'out');
    const gbFwd = outs.reduce((a, r) => a + r.bytes, 0) / 1e9;
    console.log(`ledger of B after forwarding ${gbFwd.toFixed(2)} GB on ${outs.length} routes (this run's transfers; ${before} bytes before the 1 GiB): ` +
      `${raw} bytes on disk (${(raw / 1024 / gbFwd).toFixed(0)} KB per GB, LevelDB log as written), after compaction ${compacted} bytes ` +
      `(${(compacted / 1024 / gbFwd).toFixed(1)} KB per GB, ${(compacted / outs.length / 1024).toFixed(1)} KB per route, LevelDB's fixed files included; goal < 10 KB per GB); ` +
      `its statement of the day verifies (${vc.totals.signedBytes} bytes signed)`);
  } finally {
    await on.stop();
    await off.stop();
    await ctl.stop();
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Receipts per second of wall time, and per second of this process's CPU time (all its threads: per core). */
type Rate = { wall: number; cpu: number };
async function rate(n: number, run: () => unknown): Promise<Rate> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall: n / wall, cpu: n / ((c.user + c.system) / 1e6) };
}
const fmt = (xs: Rate[]) =>
  `${median(xs.map((x) => x.wall)).toFixed(0)} /s (per CPU-second ${median(xs.map((x) => x.cpu)).toFixed(0)}; runs ${xs.map((x) => x.wall.toFixed(0)).join(' ')})`;

async function verifyRow(): Promise<void> {
  // Verify speed: a statement of 10,000 receipts (one entry per route, one receipt each) made here.
  const node = generateKeyPair();
  const peer = generateKeyPair();
  const pkN = node.publicKey.toString('hex');
  const pkP = peer.publicKey.toString('hex');
  const now = Date.now();
  const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const records: LedgerRecord[] = [];
  for (let i = 1; i <= 10_000; i++) {
    const r = signReceipt({ signer: pkP, payee: pkN, routeId: i, bytes: 1 << 20, packets: 16, seq: 0, timeMs: now }, peer);
    records.push({ dir: 'out', peer: pkP, routeId: i, hour, bytes: 1 << 20, packets: 16, receipt: r.raw.toString('hex'), lastMs: now });
  }
  const st = buildStatement(node, records, { fromMs: hour, toMs: hour + HOUR_MS });
  const json = JSON.parse(JSON.stringify(st)) as unknown;
  const raws = records.map((r) => Buffer.from(r.receipt!, 'hex'));
  console.log(loadLine());

  // One thread, each engine on the same 1,000 receipts, alternating: the per-core cost of a signature.
  const sample = raws.slice(0, 1000);
  const one = { noble: [] as Rate[], openssl: [] as Rate[], libsecp: [] as Rate[], none: [] as Rate[] };
  for (let i = 0; i < 2; i++) {
    one.noble.push(await rate(sample.length, () => sample.every((r) => verifyReceipt(decodeReceipt(r))) || cannotMeasure('noble refused')));
    one.openssl.push(await rate(sample.length, () => sample.every(verifyRawFast) || cannotMeasure('OpenSSL refused')));
    one.libsecp.push(await rate(sample.length, () => sample.every(verifyRawLibsecp) || cannotMeasure('libsecp256k1 refused')));
    // Everything of a statement's verification but the signatures (shape, hex, layout, the claims): its floor.
    one.none.push(await rate(10_000, () => verifyStatement(json, () => true).ok || cannotMeasure('the statement did not verify')));
  }
  console.log(`verify, one thread: @noble/curves ${fmt(one.noble)}, OpenSSL ${fmt(one.openssl)}, libsecp256k1-wasm ${fmt(one.libsecp)}; ` +
    `libsecp256k1 vs OpenSSL x${(median(one.libsecp.map((x) => x.cpu)) / median(one.openssl.map((x) => x.cpu))).toFixed(1)} per CPU-second; ` +
    `a 10,000-receipt statement's checks without signatures ${fmt(one.none)}`);

  // The whole statement on the CLI's path (a thread per core), OpenSSL vs libsecp256k1 alternating.
  const st10 = { openssl: [] as Rate[], libsecp: [] as Rate[] };
  for (let i = 0; i < 2; i++) {
    for (const engine of ['openssl', 'libsecp'] as const) {
      st10[engine].push(await rate(10_000, async () => (await verifyStatementFast(json, engine)).ok || cannotMeasure(`${engine}: the statement did not verify`)));
    }
  }
  console.log(`verify, statement of 10,000 receipts on ${availableParallelism()} threads: OpenSSL ${fmt(st10.openssl)}, libsecp256k1-wasm ${fmt(st10.libsecp)}: ` +
    `x${(median(st10.libsecp.map((x) => x.wall)) / median(st10.openssl.map((x) => x.wall))).toFixed(1)} (goal 10,000/s)`);

  // 100,000 receipts (the 10,000 above ten times over: the same work, nothing is cached) through the pool.
  const big = Array.from({ length: BIG }, (_, i) => raws[i % raws.length]);
  const pool = { openssl: [] as Rate[], libsecp: [] as Rate[] };
  for (const engine of ['libsecp', 'openssl'] as const) {
    pool[engine].push(await rate(big.length, async () => (await verifyReceiptsParallel(big, undefined, engine)).every(Boolean) || cannotMeasure(`${engine} refused`)));
  }
  console.log(`verify, ${BIG.toLocaleString('en')} receipts on ${availableParallelism()} threads: OpenSSL ${fmt(pool.openssl)}, libsecp256k1-wasm ${fmt(pool.libsecp)}`);
}
/** METERING_BENCH_VERIFY_BIG: the size of the pool-only row (default 100,000 receipts). */
const BIG = Number(process.env.METERING_BENCH_VERIFY_BIG ?? 100_000);

await main();
