// Resident memory of vpn-client and vpn-server carrying a TCP flow, as before issue 13 (V8's young generation
// as it was, one allocation per TUN packet), with only the young generation capped, and as now (both levers),
// in alternating rounds of the same run so that the machine's load weighs on all alike. Over the direct
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

/** before: as before issue 13; young gen: only the nursery capped; after: the defaults now (both levers). */
const MODES = {
  before: { SKYWIRE_VPN_YOUNG_GEN: 'default', SKYWIRE_VPN_TUN_BATCH: 'per-packet' },
  'young gen': { SKYWIRE_VPN_TUN_BATCH: 'per-packet' },
  after: {},
} as const;
type Mode = keyof typeof MODES;

async function round(l: VpnLab, mode: Mode): Promise<Round> {
  const id = newKey(l.stateA);
  const env = { SIGNAL_CLIENT: 'false', ...MODES[mode] };
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
    const modes = Object.keys(MODES) as Mode[];
    const runs = Object.fromEntries(modes.map((m) => [m, [] as Round[]])) as Record<Mode, Round[]>;
    for (let i = 0; i < ROUNDS; i++) for (const m of modes) runs[m].push(await round(l, m));
    const mb = (x: number) => `${x.toFixed(0)} MB`;
    const memCol = (xs: Mem[]) =>
      `rss ${mb(median(xs.map((m) => m.rss)))} (private ${mb(median(xs.map((m) => m.anon)))}, shared file ${mb(median(xs.map((m) => m.file)))}, peak ${mb(median(xs.map((m) => m.peak))) })`;
    console.log(`vpn over a direct secure TCP stream, iperf3 TCP A -> B ${SECONDS} s, ${ROUNDS} alternating rounds each, medians`);
    for (const k of modes) {
      const rs = runs[k];
      console.log(`  ${k} rounds: ${rs.map((r) => `${r.mbits.toFixed(0)} Mbit/s ${r.cpuPerGb.toFixed(1)} CPU-s/GB`).join(', ')}`);
      console.log(
        `${k.padEnd(9)} ${median(rs.map((r) => r.mbits)).toFixed(0).padStart(5)} Mbit/s  ${median(rs.map((r) => r.cpuPerGb)).toFixed(1)} CPU-s/GB` +
          `  vpn-client ${memCol(rs.map((r) => r.client))}  vpn-server ${memCol(rs.map((r) => r.server))}`,
      );
    }
    const worst = (m: Mode) => Math.max(...runs[m].map((r) => Math.max(r.client.rss, r.server.rss)));
    const worstPrivate = Math.max(...runs.after.map((r) => Math.max(r.client.anon, r.server.anon)));
    console.log(
      `goal row: vpn-client/vpn-server RSS after carrying the flow, worst round ${mb(worst('after'))} (goal <= 45 MB each: ` +
        `${worst('after') <= 45 ? 'met' : 'NOT met'}; before: ${mb(worst('before'))}); private part ${mb(worstPrivate)}`,
    );
    console.log(loadLine());
  } finally {
    await l.cleanup();
  }
}

await main();
