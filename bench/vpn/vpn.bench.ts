// The VPN's goal rows (issue 13), from A to B behind C, in network namespaces, every baseline in the same run:
//   plain   A -> C -> B routed by the kernel (the baseline),
//   direct  through vpn-client/vpn-server over one secure (BOLT #8) TCP connection A -> C,
//   route   through vpn-client/vpn-server over a Skywire route with ONE intermediate node (A -> R -> C; R is its
//           own node process in C's namespace), once per variant (VARIANTS: "before" and "after" a lever),
//           then with the endpoints INSIDE nodes A and C (`skywire node ... --vpn-client/--vpn-server`, the
//           defaults otherwise): three processes on the path instead of five.
// Per path: iperf3 TCP throughput (ratio to plain), CPU-seconds per GB of the processes on the path, TCP
// retransmits inside the tunnel as % of segments (lossless path; then again with two busy loops loading the
// CPUs), median ping RTT with pings 0.2 s apart and what the path adds to plain; for the route, the RSS of the
// three nodes idle and the peak sampled while carrying the flow, and of vpn-client and vpn-server.
// Needs root, ip netns, /dev/net/tun, iperf3, ping, the TUN addon: without them it says why and exits 1.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labSkipReason } from '../../test/netns/lab.js';
import { startBenchMesh } from './mesh.js';
import { cannotMeasure, loadLine, median } from '../common/report.js';
import { cpuSeconds, memOf } from '../node/flow-memory.js';
import { findAddon } from '../../src/apps/vpn/tun.js';
import { A_ADDR, B_ADDR, C_ON_A_LINK, C_ON_B_LINK, CLI, type VpnLab, buildVpnLab, newKey, startClient, startServer } from '../../test/apps/vpn/topology.js';

const SECONDS = Number(process.env.VPN_BENCH_SECONDS ?? 4);
const PINGS = Number(process.env.VPN_BENCH_PINGS ?? 30);
const PING_GAP_S = '0.2';
/** Alternating rounds of in-node and separate endpoints (the last variant) over the route. */
const ROUNDS = Math.max(1, Number(process.env.VPN_BENCH_ROUNDS ?? 3));

/** What is compared over the route: extra vpn-client/vpn-server arguments and environment per variant. */
const BEFORE_ENV = { SKYWIRE_VPN_CONGESTION: 'drop', SKYWIRE_VPN_YOUNG_GEN: 'default' };

/** `VPN_BENCH_VARIANTS=today`: only the tree as it is, with its defaults. */
const VARIANTS: Array<{ name: string; args: string[]; env?: NodeJS.ProcessEnv }> =
  process.env.VPN_BENCH_VARIANTS === 'today'
    ? [{ name: 'today', args: [] }]
    : [
        // As before issue 13: no offload, drops when congested, V8's young generation as it was (nodes too).
        { name: 'before', args: ['--offload', 'off'], env: BEFORE_ENV },
        { name: 'offload only', args: ['--offload', 'on'], env: BEFORE_ENV },
        { name: 'after (defaults)', args: ['--offload', 'on'] },
      ];

interface Flow {
  mbits: number;
  /** Retransmitted segments as a share of segments sent (iperf3's count; segments = bytes / MSS). */
  retransPct: number;
  retrans: number;
  cpuPerGb: number;
  /** Peak RSS (MB) of each watched process during the flow. */
  peakRss: number[];
}

interface Figures {
  quiet: Flow;
  busy: Flow;
  /** B -> A (iperf3 -R), quiet: the download direction, where the exit's TUN device takes the bursts. */
  down: Flow;
  rttMs: number;
  /** RSS (MB) of each watched process before the flows. */
  idleRss: number[];
}

/** Median of the per-reply `time=` values of a ping run. */
async function medianRtt(l: VpnLab): Promise<number> {
  const ping = await l.a.exec('ping', ['-c', String(PINGS), '-i', PING_GAP_S, '-n', B_ADDR], 60_000);
  const times = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (times.length < PINGS / 2) throw new Error(`ping failed: ${ping.stdout.slice(-300)}${ping.stderr}`);
  return median(times);
}

/** Two busy loops (the machine has 2 cores): "with the CPUs busy". */
function burnCpus(): ChildProcess[] {
  return [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
}

async function flow(l: VpnLab, pids: number[], busy: boolean, reverse = false): Promise<Flow> {
  const burners = busy ? burnCpus() : [];
  const cpu0 = pids.map(cpuSeconds);
  const peakRss = pids.map(() => 0);
  const sampler = setInterval(() => pids.forEach((p, i) => (peakRss[i] = Math.max(peakRss[i], memOf(p).rss))), 250);
  try {
    const iperf = await l.a.exec('iperf3', ['-c', B_ADDR, '-t', String(SECONDS), '-J', ...(reverse ? ['-R'] : [])], (SECONDS + 20) * 1000);
    if (iperf.code !== 0) throw new Error(`iperf3 failed: ${iperf.stderr || iperf.stdout.slice(0, 300)}`);
    const r = JSON.parse(iperf.stdout) as {
      start: { tcp_mss_default?: number };
      end: { sum_sent: { bytes: number; retransmits?: number }; sum_received: { bits_per_second: number; bytes: number } };
    };
    const cpu = pids.map(cpuSeconds).reduce((s, x, i) => s + x - cpu0[i], 0);
    const segments = r.end.sum_sent.bytes / (r.start.tcp_mss_default || 1448);
    const retrans = r.end.sum_sent.retransmits ?? 0;
    return {
      mbits: r.end.sum_received.bits_per_second / 1e6,
      retrans,
      retransPct: (100 * retrans) / segments,
      cpuPerGb: cpu / (r.end.sum_received.bytes / 1e9),
      peakRss,
    };
  } finally {
    clearInterval(sampler);
    for (const b of burners) b.kill('SIGKILL');
  }
}

/** Each figure's median over rounds of one configuration. */
function medianFigures(list: Figures[]): Figures {
  const m = (f: (x: Figures) => number) => median(list.map(f));
  const flowOf = (k: 'quiet' | 'busy' | 'down'): Flow => ({
    mbits: m((x) => x[k].mbits),
    retransPct: m((x) => x[k].retransPct),
    retrans: m((x) => x[k].retrans),
    cpuPerGb: m((x) => x[k].cpuPerGb),
    peakRss: list[0][k].peakRss.map((_, i) => m((x) => x[k].peakRss[i])),
  });
  return { quiet: flowOf('quiet'), busy: flowOf('busy'), down: flowOf('down'), rttMs: m((x) => x.rttMs), idleRss: list[0].idleRss.map((_, i) => m((x) => x.idleRss[i])) };
}

async function measure(l: VpnLab, pids: number[]): Promise<Figures> {
  const idleRss = pids.map((p) => memOf(p).rss);
  const quiet = await flow(l, pids, false);
  const busy = await flow(l, pids, true);
  const down = await flow(l, pids, false, true);
  return { quiet, busy, down, rttMs: await medianRtt(l), idleRss };
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

async function main(): Promise<void> {
  const missing =
    (await labSkipReason({ tun: true, tools: ['iperf3', 'ping', 'nft'] })) ?? (findAddon() ? undefined : 'TUN addon not built (npm run build)');
  if (missing) cannotMeasure(`the VPN bench cannot run here: ${missing}`);
  console.log(loadLine());
  const l = await buildVpnLab();
  const dir = mkdtempSync(join(tmpdir(), 'vpn-bench-'));
  try {
    l.b.spawn('iperf3', ['-s', '-B', B_ADDR], { label: 'iperf3 server' });
    await l.b.exec('sh', ['-c', `for i in $(seq 50); do ss -ltn | grep -q ${B_ADDR}:5201 && exit 0; sleep 0.1; done; exit 1`]);

    // Plain routed path.
    await l.a.run('ip', ['route', 'add', '192.168.77.0/24', 'via', C_ON_A_LINK]);
    await l.b.run('ip', ['route', 'add', '10.201.0.0/24', 'via', C_ON_B_LINK]);
    await l.c.run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    const plain = await measure(l, []);
    await l.a.run('ip', ['route', 'del', '192.168.77.0/24']);
    await l.b.run('ip', ['route', 'del', '10.201.0.0/24']);
    await l.c.run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);

    // VPN over a direct TCP stream: the first and the last variant (drops vs backpressure show here).
    const directs: Figures[] = [];
    const directVariants = [VARIANTS[0], VARIANTS[VARIANTS.length - 1]].filter((v, i, all) => all.indexOf(v) === i);
    for (const v of directVariants) {
      const id = newKey(l.stateA);
      const dServer = startServer(l, [id.pk], v.args, v.env);
      await dServer.waitFor(/^vpn-server: up on/m);
      const dClient = startClient(l, id, ['--subnet', '192.168.77.0/24', ...v.args], v.env);
      await dClient.waitFor(/^vpn-client: up on/m);
      directs.push(await measure(l, [dClient.child.pid!, dServer.child.pid!]));
      await dClient.stop();
      await dServer.stop();
    }

    // VPN over a mesh route with one intermediate node (the goal's configuration), once per variant.
    const mesh = await startBenchMesh(l, dir);
    let plainNodes = { a: mesh.nodeA, c: mesh.nodeC };
    /** vpn-client and vpn-server beside nodes A and C: five processes on the path. */
    const separate = async (v: (typeof VARIANTS)[number]): Promise<Figures> => {
      const env = { SIGNAL_CLIENT: 'false', ...v.env };
      const server = l.c.spawn(process.execPath, [CLI, 'vpn-server', '--api-file', mesh.apiC, '--allow', mesh.pkA, '--state-dir', l.stateC, ...v.args], {
        label: 'vpn-server',
        env,
      });
      await server.waitFor(/^vpn-server: up on/m);
      const client = l.a.spawn(
        process.execPath,
        [CLI, 'vpn-client', mesh.pkC, '--api-file', mesh.apiA, '--hops', '2', '--subnet', '192.168.77.0/24', '--state-dir', l.stateA, ...v.args],
        { label: 'vpn-client --hops 2', env },
      );
      await client.waitFor(/^vpn-client: up on/m, 40_000);
      const f = await measure(l, [plainNodes.a, mesh.nodeR, plainNodes.c, client, server].map((p) => p.child.pid!));
      await client.stop();
      await server.stop();
      return f;
    };
    /** The endpoints inside nodes A and C (the same keys, restarted with the VPN in them): three processes. */
    const inNodeRound = async (): Promise<Figures> => {
      await plainNodes.a.stop();
      await plainNodes.c.stop();
      const nodeC = await mesh.startNodeC(['--vpn-server', '--allow', mesh.pkA, '--state-dir', l.stateC]);
      await nodeC.waitFor(/^vpn-server: up on/m, 20_000, 'stdout');
      const nodeA = await mesh.startNodeA(['--vpn-client', mesh.pkC, '--hops', '2', '--subnet', '192.168.77.0/24', '--state-dir', l.stateA]);
      await nodeA.waitFor(/^vpn-client: up on/m, 60_000, 'stdout');
      const f = await measure(l, [nodeA, mesh.nodeR, nodeC].map((p) => p.child.pid!));
      await nodeA.stop();
      await nodeC.stop();
      plainNodes = { c: await mesh.startNodeC(), a: await mesh.startNodeA() };
      return f;
    };
    const routes: Figures[] = [];
    for (const v of VARIANTS) routes.push(await separate(v));
    // In-node against the separate processes with the same defaults, in alternating rounds (the machine's load
    // drifts): the separate rounds are the last variant's run above and one more per further round.
    const lastVariant = VARIANTS[VARIANTS.length - 1];
    const separateRounds = [routes[routes.length - 1]];
    const inNodeRounds: Figures[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      if (r > 0) separateRounds.push(await separate(lastVariant));
      inNodeRounds.push(await inNodeRound());
    }
    routes[routes.length - 1] = medianFigures(separateRounds);
    const inNode = medianFigures(inNodeRounds);

    const row = (name: string, f: Figures) =>
      `${name.padEnd(30)} ${f.quiet.mbits.toFixed(0).padStart(6)} Mbit/s (${((100 * f.quiet.mbits) / plain.quiet.mbits).toFixed(1).padStart(4)}% of plain)` +
      `  ${f.quiet.cpuPerGb.toFixed(1).padStart(5)} CPU-s/GB` +
      `  retrans ${f.quiet.retransPct.toFixed(3)}% (${f.quiet.retrans}), busy CPUs ${f.busy.retransPct.toFixed(3)}% (${f.busy.retrans}) at ${f.busy.mbits.toFixed(0)} Mbit/s` +
      `  ping ${f.rttMs.toFixed(3)} ms (+${(f.rttMs - plain.rttMs).toFixed(3)})` +
      `  down ${f.down.mbits.toFixed(0)} Mbit/s retrans ${f.down.retransPct.toFixed(3)}% (${f.down.retrans})`;
    console.log(`A (${A_ADDR}) -> B (${B_ADDR}) behind C; iperf3 TCP ${SECONDS} s (quiet, then with 2 busy loops); median of ${PINGS} pings ${PING_GAP_S} s apart`);
    if (ROUNDS > 1) console.log(`* median of ${ROUNDS} rounds, in-node and separate alternating`);
    console.log(row('plain routed path', plain));
    directVariants.forEach((v, i) => console.log(row(`direct secure TCP, ${v.name}`, directs[i])));
    const mb = (x: number) => `${x.toFixed(0)} MB`;
    const rounds = (list: Figures[]) =>
      console.log(`    rounds: ${list.map((x) => `${x.quiet.mbits.toFixed(0)} Mbit/s ${x.quiet.cpuPerGb.toFixed(1)} CPU-s/GB +${(x.rttMs - plain.rttMs).toFixed(3)} ms`).join('; ')}`);
    VARIANTS.forEach((v, i) => {
      const f = routes[i];
      console.log(row(`route 1 interm., ${v.name}${i === VARIANTS.length - 1 && ROUNDS > 1 ? ' *' : ''}`, f));
      if (i === VARIANTS.length - 1 && ROUNDS > 1) rounds(separateRounds);
      const [a, r, c, client, server] = f.quiet.peakRss;
      const idle = f.idleRss;
      console.log(
        `    rss: nodes A/R/C idle ${mb(idle[0])}/${mb(idle[1])}/${mb(idle[2])}, carrying ${f.quiet.mbits.toFixed(0)} Mbit/s ${mb(a)}/${mb(r)}/${mb(c)};` +
          ` vpn-client ${mb(client)}, vpn-server ${mb(server)} (peaks; idle ${mb(idle[3])}, ${mb(idle[4])}); all 5 processes ${mb(sum(f.quiet.peakRss))}`,
      );
    });
    console.log(row(`route 1 interm., in-node endpoints${ROUNDS > 1 ? ' *' : ''}`, inNode));
    if (ROUNDS > 1) rounds(inNodeRounds);
    const [ia, ir, ic] = inNode.quiet.peakRss;
    console.log(
      `    rss: nodes A (with vpn-client)/R/C (with vpn-server) idle ${inNode.idleRss.map(mb).join('/')}, carrying ${inNode.quiet.mbits.toFixed(0)} Mbit/s` +
        ` ${mb(ia)}/${mb(ir)}/${mb(ic)} (peaks); all 3 processes ${mb(sum(inNode.quiet.peakRss))}`,
    );
    const goal = (what: string, value: string, met: boolean, target: string) => console.log(`goal row: ${what}: ${value} (goal ${target}: ${met ? 'met' : 'NOT met'})`);
    const f = routes[routes.length - 1];
    const b = routes[0];
    const pct = (x: Figures) => (100 * x.quiet.mbits) / plain.quiet.mbits;
    // The endpoints inside the nodes, measured in this run beside the separate processes (the last variant).
    const sep = f;
    goal(
      'VPN in-node endpoints vs separate processes (after), 1 intermediate node',
      `${pct(inNode).toFixed(1)}% vs ${pct(sep).toFixed(1)}% of plain, ${inNode.quiet.cpuPerGb.toFixed(1)} vs ${sep.quiet.cpuPerGb.toFixed(1)} CPU-s/GB, ` +
        `ping +${(inNode.rttMs - plain.rttMs).toFixed(3)} vs +${(sep.rttMs - plain.rttMs).toFixed(3)} ms, ` +
        `RSS on the path ${mb(sum(inNode.quiet.peakRss))} (3 processes) vs ${mb(sum(sep.quiet.peakRss))} (5)`,
      pct(inNode) >= 15 && inNode.quiet.cpuPerGb <= 12,
      '>= 15% of plain and <= 12 CPU-s/GB',
    );
    goal('VPN TCP throughput, 1 intermediate node', `${pct(f).toFixed(1)}% of plain veth (before: ${pct(b).toFixed(1)}%)`, pct(f) >= 15, '>= 15%');
    goal('VPN CPU cost', `${f.quiet.cpuPerGb.toFixed(1)} CPU-s per GB (before: ${b.quiet.cpuPerGb.toFixed(1)})`, f.quiet.cpuPerGb <= 12, '<= 12');
    const added = f.rttMs - plain.rttMs;
    goal('VPN ping added over plain, median, 0.2 s apart', `+${added.toFixed(3)} ms (before: +${(b.rttMs - plain.rttMs).toFixed(3)})`, added <= 0.6, '<= 0.6 ms');
    const worstRetrans = Math.max(f.quiet.retransPct, f.busy.retransPct, f.down.retransPct);
    const retransOf = (x: Figures) => `${x.quiet.retransPct.toFixed(3)}% / ${x.busy.retransPct.toFixed(3)}% / ${x.down.retransPct.toFixed(3)}%`;
    goal(
      'TCP retransmits inside the tunnel, lossless path, quiet / CPUs busy / download (B -> A)',
      `${retransOf(f)} of segments (in-node: ${retransOf(inNode)}; before: ${retransOf(b)})`,
      worstRetrans < 0.1,
      '< 0.1%',
    );
    const nodePeak = Math.max(...f.quiet.peakRss.slice(0, 3));
    const nodeIdle = Math.max(...f.idleRss.slice(0, 3));
    goal(
      `node RSS idle / carrying the VPN flow (${f.quiet.mbits.toFixed(0)} Mbit/s; the same node processes, today's code, serve every variant; ` +
        'before/after and 1 Gbit/s: bench/node/memory.bench.ts)',
      `${mb(nodeIdle)} / ${mb(nodePeak)} (before: ${mb(Math.max(...b.idleRss.slice(0, 3)))} / ${mb(Math.max(...b.quiet.peakRss.slice(0, 3)))})`,
      nodeIdle <= 50 && nodePeak <= 80,
      '<= 50 MB / <= 80 MB',
    );
    const appPeak = Math.max(f.quiet.peakRss[3], f.quiet.peakRss[4]);
    goal('vpn-client, vpn-server RSS', `${mb(f.quiet.peakRss[3])}, ${mb(f.quiet.peakRss[4])} (before: ${mb(b.quiet.peakRss[3])}, ${mb(b.quiet.peakRss[4])})`, appPeak <= 45, '<= 45 MB each');
    console.log(loadLine());
  } finally {
    await l.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
