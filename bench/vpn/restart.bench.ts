// VPN throughput before and after the intermediate node of its route is killed and restarted (issue 13:
// "the VPN recovered but stayed at 84-168 Mbit/s against 210-230 before"). Relay lab A -> R -> C -> B
// (test/apps/vpn/topology.ts): vpn-client on A with --hops 2, vpn-server on C, iperf3 A -> B through the
// tunnel. Prints the rate before, each second of a run after node R came back, and the ratio after/before.
// Needs root, ip netns, /dev/net/tun, iperf3, the TUN addon: without them it says why and exits 1.
import { readFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { labSkipReason } from '../../test/netns/lab.js';
import { cannotMeasure, loadLine, median } from '../common/report.js';
import { findAddon } from '../../src/apps/vpn/tun.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host } from '../../test/netns/lab.js';
import { B_ADDR, CLI, buildRelayLab, buildVpnLab, startRelayMesh } from '../../test/apps/vpn/topology.js';
import { startBenchMesh } from './mesh.js';

/** CPU ticks (utime + stime) of every process of this lab running the CLI, by "subcommand keyfile". */
function cpuTicks(tag: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmd.some((a) => a.endsWith('skywire.js')) || !cmd.some((a) => a.includes(tag))) continue;
      const sub = cmd[cmd.findIndex((a) => a.endsWith('skywire.js')) + 1];
      const key = cmd[cmd.indexOf('--key') + 1] ?? '';
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      const label = `${sub}${cmd.includes('--key') ? ' ' + basename(key) : ''}`;
      out.set(label, (out.get(label) ?? 0) + Number(f[11]) + Number(f[12]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function cpuDiff(a: Map<string, number>, b: Map<string, number>, seconds: number): string {
  return [...b]
    .map(([k, v]) => `${k} ${(((v - (a.get(k) ?? 0)) / 100 / seconds) * 100).toFixed(0)}%`)
    .sort()
    .join(', ');
}

const BEFORE_S = Number(process.env.RESTART_BENCH_BEFORE_S ?? 6);
const AFTER_S = Number(process.env.RESTART_BENCH_AFTER_S ?? 20);

/** Per-second receive rates (Mbit/s) of one iperf3 run of `seconds` from A to B. */
async function iperf(l: { a: Host }, seconds: number): Promise<number[]> {
  const r = await l.a.exec('iperf3', ['-c', B_ADDR, '-t', String(seconds), '-J'], (seconds + 30) * 1000);
  if (r.code !== 0) throw new Error(`iperf3 failed: ${r.stderr || r.stdout.slice(0, 300)}`);
  const j = JSON.parse(r.stdout) as { intervals: Array<{ sum: { bits_per_second: number } }> };
  if (!j.intervals?.length) throw new Error(`iperf3 reported no intervals: ${r.stdout.slice(0, 300)}`);
  return j.intervals.map((i) => i.sum.bits_per_second / 1e6);
}

async function main(): Promise<void> {
  const missing = (await labSkipReason({ tun: true, tools: ['iperf3', 'nft'] })) ?? (findAddon() ? undefined : 'TUN addon not built (npm run build)');
  if (missing) cannotMeasure(`the VPN restart bench cannot run here: ${missing}`);
  console.log(loadLine());
  // chain (default): A -- R -- C -- B, R dials A and C (test/apps/vpn/topology.ts, buildRelayLab);
  // star (RESTART_BENCH_TOPOLOGY=star): bench/vpn's mesh, R in C's namespace, A dials C and R, R dials C.
  const star = process.env.RESTART_BENCH_TOPOLOGY === 'star';
  const l = star ? await buildVpnLab() : await buildRelayLab();
  const dir = mkdtempSync(join(tmpdir(), 'vpn-restart-'));
  try {
    l.b.spawn('iperf3', ['-s', '-B', B_ADDR], { label: 'iperf3 server' });
    await l.b.exec('sh', ['-c', `for i in $(seq 50); do ss -ltn | grep -q ${B_ADDR}:5201 && exit 0; sleep 0.1; done; exit 1`]);
    let mesh: { pkA: string; pkC: string; apiA: string; apiC: string; restartR(): Promise<void>; status: Array<[Host, string]>; logs: Array<[string, { stderr: string }]> };
    if (star) {
      const m = await startBenchMesh(l as Awaited<ReturnType<typeof buildVpnLab>>, dir);
      mesh = {
        ...m,
        restartR: async () => {
          await m.nodeR.stop('SIGKILL');
          await m.startNodeR();
        },
        status: [[l.a, m.apiA], [l.c, m.apiR], [l.c, m.apiC]],
        logs: [],
      };
    } else {
      const rl = l as Awaited<ReturnType<typeof buildRelayLab>>;
      const m = await startRelayMesh(rl, dir);
      mesh = {
        ...m,
        restartR: async () => {
          await m.nodeR.stop('SIGKILL');
          await m.startNodeR().waitFor(/^\{.*\}$/m, 20_000, 'stdout');
        },
        status: [[l.a, m.apiA], [rl.r, m.apiR], [l.c, m.apiC]],
        logs: [['node a', m.nodeA], ['node c', m.nodeC]],
      };
    }
    const server = l.c.spawn(process.execPath, [CLI, 'vpn-server', '--api-file', mesh.apiC, '--allow', mesh.pkA, '--state-dir', l.stateC], {
      label: 'vpn-server',
      env: { LOG_LEVEL: 'info' },
    });
    await server.waitFor(/^vpn-server: up on/m);
    const client = l.a.spawn(
      process.execPath,
      [CLI, 'vpn-client', mesh.pkC, '--api-file', mesh.apiA, '--hops', '2', '--subnet', '192.168.77.0/24', '--state-dir', l.stateA],
      { label: 'vpn-client', env: { LOG_LEVEL: 'info' } },
    );
    await client.waitFor(/^vpn-client: up on/m, 40_000);
    const ups = (client.stdout.match(/^vpn-client: up on/gm) ?? []).length;
    const restartR = async () => {
      console.log(`killing node R at ${new Date().toISOString()}`);
      await mesh.restartR();
      // The client notices the dead route (stream closed or keepalives missing) and reconnects over the new one.
      await client.waitFor(new RegExp(`(?:^vpn-client: up on[^]*){${ups + 1}}`, 'm'), 60_000);
    };
    let before: number[];
    let after: number[];
    if (process.env.RESTART_BENCH_CONTINUOUS) {
      // One TCP connection across the restart, as a user's download would be.
      const total = BEFORE_S + AFTER_S;
      const run = l.a.spawn('iperf3', ['-c', B_ADDR, '-t', String(total), '-i', '1', '--forceflush', '-f', 'm'], { label: 'iperf3' });
      const intervalRe = /\[\s*\d+\]\s+[\d.]+-[\d.]+\s+sec\s+[\d.]+ \w+\s+([\d.]+) Mbits\/sec/g;
      await run.waitFor(new RegExp(`(?:sec\\s+[\\d.]+ \\w+\\s+[\\d.]+ Mbits/sec[^]*){${BEFORE_S}}`), 60_000);
      // RESTART_BENCH_CONTROL: the same run without the restart, to tell the restart's effect from drift.
      if (!process.env.RESTART_BENCH_CONTROL) await restartR();
      await run.exited;
      const rates = [...run.stdout.matchAll(intervalRe)].map((m) => Number(m[1]));
      before = rates.slice(0, BEFORE_S);
      after = rates.slice(-Math.floor(AFTER_S / 2), -2);
      console.log(`continuous run, all seconds: ${rates.map((x) => x.toFixed(0)).join(' ')}`);
    } else {
      const c0 = cpuTicks(dir);
      before = await iperf(l, BEFORE_S);
      const c1 = cpuTicks(dir);
      console.log(`cpu before (share of one core): ${cpuDiff(c0, c1, BEFORE_S)}`);
      await restartR();
      const c2 = cpuTicks(dir);
      after = await iperf(l, AFTER_S);
      const c3 = cpuTicks(dir);
      console.log(`cpu after (share of one core): ${cpuDiff(c2, c3, AFTER_S)}`);
      if (process.env.RESTART_BENCH_LOGS) {
        for (const [h, api] of mesh.status) {
          const st = await h.exec(process.execPath, [CLI, 'node', 'status', '--api-file', api, '--json']);
          console.log(`--- node status ${h.name}\n${st.stdout.slice(0, 4000)}`);
        }
      }
      // A fresh client session on the same path: is what remains slow the old state, or the machine?
      await client.stop();
      const fresh = l.a.spawn(
        process.execPath,
        [CLI, 'vpn-client', mesh.pkC, '--api-file', mesh.apiA, '--hops', '2', '--subnet', '192.168.77.0/24', '--state-dir', l.stateA],
        { label: 'vpn-client 2' },
      );
      await fresh.waitFor(/^vpn-client: up on/m, 40_000);
      const again = await iperf(l, AFTER_S);
      console.log(`after a new client session:  ${again.map((x) => x.toFixed(0)).join(' ')} (median ${median(again).toFixed(0)})`);
    }

    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
    console.log(`vpn over A -> R -> C, iperf3 TCP A -> B, Mbit/s per second`);
    console.log(`before node R restarted: ${fmt(before)} (median ${median(before).toFixed(0)})`);
    console.log(`after node R restarted:  ${fmt(after)} (median ${median(after).toFixed(0)})`);
    console.log(`ratio after/before (medians): ${(median(after) / median(before)).toFixed(2)}`);
    if (process.env.RESTART_BENCH_LOGS) {
      for (const [n, p] of mesh.logs) {
        console.log(`--- ${n} stderr\n` + p.stderr.split('\n').filter((x) => /repair|switch|broken|route|stream/i.test(x)).slice(-30).join('\n'));
      }
      console.log('--- vpn-client stderr\n' + client.stderr.slice(-3000));
      console.log('--- vpn-server stderr\n' + server.stderr.slice(-3000));
    }
    console.log(loadLine());
  } finally {
    await l.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
