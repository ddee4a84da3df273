// Resident memory of vpn-client and vpn-server carrying a TCP flow, with V8's young generation left as it
// is (SKYWIRE_VPN_YOUNG_GEN=default: the "before") and capped (the default since issue 13: the "after"),
// in alternating rounds of the same run so that the machine's load weighs on both alike. Over the direct
// secure TCP transport (A -> C), so that only the two VPN processes are on the path. For each: iperf3
// throughput A -> B, the two processes' CPU-seconds per GB moved, and their memory after the flow: RSS,
// its private (anonymous) part, its file-backed part (the node executable's pages, shared with every other
// node process), and the peak (VmHWM). Goal row: RSS <= 45 MB each.
// Needs root, ip netns, /dev/net/tun, iperf3, the TUN addon: without them it says why and exits 1.
import { readFileSync } from 'node:fs';
import { labSkipReason } from '../../test/netns/lab.js';
import { cannotMeasure, loadLine, median } from '../common/report.js';
import { findAddon } from '../../src/apps/vpn/tun.js';
import { B_ADDR, C_ON_A_LINK, CLI, VPN_PORT, type VpnLab, buildVpnLab, newKey } from '../../test/apps/vpn/topology.js';

const SECONDS = 5;
const ROUNDS = Number(process.env.MEMORY_BENCH_ROUNDS ?? 2);

interface Mem {
  rss: number;
  anon: number;
  file: number;
  peak: number;
}

/** Memory of a process from /proc/<pid>/status, in MB. */
function memOf(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), peak: kb('VmHWM') };
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface Round {
  mbits: number;
  cpuPerGb: number;
  client: Mem;
  server: Mem;
}

async function round(l: VpnLab, youngGen: 'default' | 'capped'): Promise<Round> {
  const id = newKey(l.stateA);
  const env = { SIGNAL_CLIENT: 'false', SKYWIRE_VPN_YOUNG_GEN: youngGen };
  const server = l.c.spawn(
    process.execPath,
    [CLI, 'vpn-server', '--direct-listen', `${C_ON_A_LINK}:${VPN_PORT}`, '--key', l.serverKey.file, '--allow', id.pk, '--state-dir', l.stateC],
    { env, label: 'vpn-server' },
  );
  await server.waitFor(/^vpn-server: up on/m);
  const client = l.a.spawn(
    process.execPath,
    [CLI, 'vpn-client', l.serverKey.pk, '--direct', `${C_ON_A_LINK}:${VPN_PORT}`, '--key', id.file, '--subnet', '192.168.77.0/24', '--state-dir', l.stateA],
    { env, label: 'vpn-client' },
  );
  await client.waitFor(/^vpn-client: up on/m);
  // `ip netns exec` execs the command: the child's pid is the node process's.
  const pids = [client.child.pid!, server.child.pid!];
  const cpu0 = pids.map(cpuSeconds);
  const r = await l.a.exec('iperf3', ['-c', B_ADDR, '-t', String(SECONDS), '-J'], (SECONDS + 20) * 1000);
  if (r.code !== 0) throw new Error(`iperf3 failed: ${r.stderr || r.stdout.slice(0, 300)}`);
  const got = (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } }).end.sum_received;
  const cpu = pids.map(cpuSeconds).reduce((s, x, i) => s + x - cpu0[i], 0);
  const out = { mbits: got.bits_per_second / 1e6, cpuPerGb: cpu / (got.bytes / 1e9), client: memOf(pids[0]), server: memOf(pids[1]) };
  await client.stop();
  await server.stop();
  return out;
}

async function main(): Promise<void> {
  const missing = (await labSkipReason({ tun: true, tools: ['iperf3', 'nft'] })) ?? (findAddon() ? undefined : 'TUN addon not built (npm run build)');
  if (missing) cannotMeasure(`the VPN memory bench cannot run here: ${missing}`);
  console.log(loadLine());
  const l = await buildVpnLab();
  try {
    l.b.spawn('iperf3', ['-s', '-B', B_ADDR], { label: 'iperf3 server' });
    await l.b.exec('sh', ['-c', `for i in $(seq 50); do ss -ltn | grep -q ${B_ADDR}:5201 && exit 0; sleep 0.1; done; exit 1`]);
    const runs: Record<'default' | 'capped', Round[]> = { default: [], capped: [] };
    for (let i = 0; i < ROUNDS; i++) {
      runs.default.push(await round(l, 'default'));
      runs.capped.push(await round(l, 'capped'));
    }
    const mb = (x: number) => `${x.toFixed(0)} MB`;
    const memCol = (xs: Mem[]) =>
      `rss ${mb(median(xs.map((m) => m.rss)))} (private ${mb(median(xs.map((m) => m.anon)))}, shared file ${mb(median(xs.map((m) => m.file)))}, peak ${mb(median(xs.map((m) => m.peak))) })`;
    console.log(`vpn over a direct secure TCP stream, iperf3 TCP A -> B ${SECONDS} s, ${ROUNDS} alternating rounds each, medians`);
    for (const k of ['default', 'capped'] as const) {
      const rs = runs[k];
      console.log(`  ${k} rounds: ${rs.map((r) => `${r.mbits.toFixed(0)} Mbit/s ${r.cpuPerGb.toFixed(1)} CPU-s/GB`).join(', ')}`);
      console.log(
        `young generation ${k.padEnd(7)} ${median(rs.map((r) => r.mbits)).toFixed(0).padStart(5)} Mbit/s  ${median(rs.map((r) => r.cpuPerGb)).toFixed(1)} CPU-s/GB` +
          `  vpn-client ${memCol(rs.map((r) => r.client))}  vpn-server ${memCol(rs.map((r) => r.server))}`,
      );
    }
    const worst = Math.max(...runs.capped.map((r) => Math.max(r.client.rss, r.server.rss)));
    console.log(
      `goal row: vpn-client/vpn-server RSS after carrying the flow, worst of the capped rounds ${mb(worst)} (goal <= 45 MB each: ${worst <= 45 ? 'met' : 'NOT met'}); ` +
        `before (young generation default) ${mb(Math.max(...runs.default.map((r) => Math.max(r.client.rss, r.server.rss))))}`,
    );
    console.log(loadLine());
  } finally {
    await l.cleanup();
  }
}

await main();
