// VPN throughput (iperf3, TCP) and latency (ping) from A to B behind C, in network namespaces:
//   plain   A -> C -> B routed by the kernel (the baseline),
//   direct  through vpn-client/vpn-server over one secure (BOLT #8) TCP connection A -> C,
//   mesh    through vpn-client/vpn-server over a Skywire route with no intermediate node (A -> C) and, the
//           goal's configuration, with ONE intermediate node (A -> R -> C; R is its own node process, run in
//           C's namespace).
// Prints each figure: throughput as a ratio to the plain path, median ping RTT and what the path adds to plain;
// the goal row is the 1-intermediate-node route's added median latency (goal < 1 ms) against the plain path.
// Needs root, ip netns, /dev/net/tun, iperf3, ping, the TUN addon: without them it says why and exits 1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labSkipReason } from '../../test/netns/lab.js';
import { startBenchMesh } from './mesh.js';
import { cannotMeasure, loadLine } from '../common/report.js';
import { findAddon } from '../../src/apps/vpn/tun.js';
import {
  A_ADDR,
  B_ADDR,
  C_ON_A_LINK,
  C_ON_B_LINK,
  CLI,
  type VpnLab,
  buildVpnLab,
  newKey,
  startClient,
  startServer,
} from '../../test/apps/vpn/topology.js';

const SECONDS = 4;

/** Pings per latency figure; `PING_GAP_S` apart (idle between, as interactive traffic is), then back to back. */
const PINGS = 60;
const PING_GAP_S = '0.05';
const BUSY_GAP_S = '0.002';

interface Figures {
  mbits: number;
  /** Median ping RTT with the processes idle between pings (each packet wakes every process on its path). */
  rttMs: number;
  /** Median ping RTT with pings 2 ms apart (processes and CPUs still awake from the previous one). */
  busyRttMs: number;
}

/** Median of the per-reply `time=` values of a ping run. */
async function medianRtt(l: VpnLab, gap: string): Promise<number> {
  const ping = await l.a.exec('ping', ['-c', String(PINGS), '-i', gap, '-n', B_ADDR], 60_000);
  const times = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  if (times.length < PINGS / 2) throw new Error(`ping failed: ${ping.stdout.slice(-300)}${ping.stderr}`);
  return times[Math.floor(times.length / 2)];
}

async function measure(l: VpnLab): Promise<Figures> {
  const iperf = await l.a.exec('iperf3', ['-c', B_ADDR, '-t', String(SECONDS), '-J'], (SECONDS + 20) * 1000);
  if (iperf.code !== 0) throw new Error(`iperf3 failed: ${iperf.stderr || iperf.stdout.slice(0, 300)}`);
  const r = JSON.parse(iperf.stdout) as { end: { sum_received: { bits_per_second: number } } };
  const rttMs = await medianRtt(l, PING_GAP_S);
  const busyRttMs = await medianRtt(l, BUSY_GAP_S);
  return { mbits: r.end.sum_received.bits_per_second / 1e6, rttMs, busyRttMs };
}

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
    const plain = await measure(l);
    await l.a.run('ip', ['route', 'del', '192.168.77.0/24']);
    await l.b.run('ip', ['route', 'del', '10.201.0.0/24']);
    await l.c.run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);

    // VPN over a direct TCP stream.
    const id = newKey(l.stateA);
    let server = startServer(l, [id.pk]);
    await server.waitFor(/^vpn-server: up on/m);
    const client = startClient(l, id, ['--subnet', '192.168.77.0/24']);
    await client.waitFor(/^vpn-client: up on/m);
    const direct = await measure(l);
    await client.stop();
    await server.stop();

    // VPN over mesh routes between real nodes: no intermediate node, then one (the goal's configuration).
    const mesh = await startBenchMesh(l, dir);
    server = l.c.spawn(process.execPath, [CLI, 'vpn-server', '--api-file', mesh.apiC, '--allow', mesh.pkA, '--state-dir', l.stateC], {
      label: 'vpn-server',
    });
    await server.waitFor(/^vpn-server: up on/m);
    const overRoute = async (hops: number): Promise<Figures> => {
      const c = l.a.spawn(
        process.execPath,
        [CLI, 'vpn-client', mesh.pkC, '--api-file', mesh.apiA, '--hops', String(hops), '--subnet', '192.168.77.0/24', '--state-dir', l.stateA],
        { label: `vpn-client --hops ${hops}` },
      );
      await c.waitFor(/^vpn-client: up on/m, 40_000);
      const f = await measure(l);
      await c.stop();
      return f;
    };
    const route0 = await overRoute(1);
    const route1 = await overRoute(2);

    const row = (name: string, f: Figures) =>
      `${name.padEnd(34)} ${f.mbits.toFixed(0).padStart(7)} Mbit/s (${(f.mbits / plain.mbits).toFixed(3)}x plain)` +
      `   median rtt ${f.rttMs.toFixed(3)} ms (+${(f.rttMs - plain.rttMs).toFixed(3)} ms)` +
      `   back to back ${f.busyRttMs.toFixed(3)} ms (+${(f.busyRttMs - plain.busyRttMs).toFixed(3)} ms)`;
    console.log(
      `A (${A_ADDR}) -> B (${B_ADDR}) behind C, iperf3 TCP ${SECONDS} s; ${PINGS} pings ${PING_GAP_S} s apart, then ${BUSY_GAP_S} s apart`,
    );
    console.log(row('plain routed path', plain));
    console.log(row('vpn, direct secure TCP', direct));
    console.log(row('vpn, route, 0 intermediate nodes', route0));
    console.log(row('vpn, route, 1 intermediate node', route1));
    const added = route1.rttMs - plain.rttMs;
    console.log(
      `goal row: route with 1 intermediate node adds ${added.toFixed(3)} ms to the plain path's median ping ` +
        `(${plain.rttMs.toFixed(3)} ms, same run; goal < 1 ms: ${added < 1 ? 'met' : 'NOT met'}), ` +
        `throughput ${(route1.mbits / plain.mbits).toFixed(3)}x plain`,
    );
    console.log(loadLine());
  } finally {
    await l.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
