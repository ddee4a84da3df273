// Hole punching in the netns lab (docs/reachability.md): each node its own process behind its own home router.
//   - success rate over N punches between two nodes behind silent masquerading routers (endpoint-independent
//     mapping), and the time from the relayed transport coming up to the punched one (from the dialer's log);
//   - the same pair through a port-randomising router (`masquerade random`): expected to stay relayed;
//   - 100 MB through a SOCKS stream over the punched link, against the same over a direct link through a
//     forwarded port (the baseline, measured in this run through the same kind of routers) and over a relayed one.
// Usage: node dist/bench/node/punch.bench.js [--tries N] [--rounds N]
//   --tries: punches timed (default 5; the figure is 50; or PUNCH_TRIES=N)
//   --rounds: 100 MB transfers per link kind, taken in turn so that a change of machine load hits all kinds alike
//   (default 2; or PUNCH_ROUNDS=N); the best of each kind is compared.
import { labSkipReason } from '../../test/netns/lab.js';
import type { HomeNetwork } from '../../test/netns/internet.js';
import { CLI, startWorld, transportTo, type Core } from '../../test/multimachine/nat-world.js';
import { BIG, fetchSource, startPair, startServers, type PunchPair } from '../../test/multimachine/punch-world.js';
import { sourceSha256 } from '../../test/multimachine/source-data.js';
import { cannotMeasure, loadLine, median } from '../common/report.js';

function intFlag(flag: string, env: string, dflt: number): number {
  const i = process.argv.indexOf(flag);
  const v = i >= 0 ? process.argv[i + 1] : process.env[env];
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${flag} wants a positive integer, got "${v}"`);
    process.exit(2);
  }
  return n;
}

interface LogLine {
  t: string;
  msg: string;
  kind?: string;
}

/** Log lines of B's node (JSON, info level) after offset `from`. */
function lines(p: PunchPair, from: number): LogLine[] {
  return p.b.proc.stderr
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/**
 * One try: B drops its transport to A and adds it again (a direct dial that the silent router swallows, then the
 * relay, then the punch). Returns ms from the relayed transport up to the punched one, or null when it stayed relayed.
 */
async function oneTry(p: PunchPair, timeoutMs: number): Promise<{ fromRelayed: number; fromDial: number } | null> {
  const cmd = (action: string) => p.two.host.exec(process.execPath, [CLI, 'node', 'transports', action, p.a.pk, '--api-file', p.b.apiFile], 30_000);
  await cmd('rm');
  const from = p.b.proc.stderr.length;
  const dialed = Date.now();
  const add = await cmd('add');
  if (add.code !== 0) throw new Error(`transports add failed: ${add.stderr}`);
  const end = Date.now() + timeoutMs;
  for (let delay = 20; Date.now() < end; delay = Math.min(200, delay * 2)) {
    const got = lines(p, from);
    const up = got.find((l) => l.msg === 'transport up' && l.kind === 'relayed');
    const punched = got.find((l) => l.msg === 'relayed transport upgraded to punched');
    if (up && punched) return { fromRelayed: Date.parse(punched.t) - Date.parse(up.t), fromDial: Date.parse(punched.t) - dialed };
    await new Promise((r) => setTimeout(r, delay));
  }
  return null;
}

async function throughput(p: PunchPair, core: Core, label: string): Promise<number> {
  const r = await fetchSource(p, core);
  if (r.bytes !== BIG || r.sha256 !== sourceSha256(BIG)) cannotMeasure(`${label}: the 100 MB did not arrive intact (${r.bytes} bytes)`);
  return BIG / 1e6 / (r.ms / 1000);
}

async function main(): Promise<void> {
  const tries = intFlag('--tries', 'PUNCH_TRIES', 5);
  const rounds = intFlag('--rounds', 'PUNCH_ROUNDS', 2);
  const skip = await labSkipReason({ tools: ['nft'] });
  if (skip) cannotMeasure(`the netns lab is not available: ${skip}`);
  const after: Array<() => Promise<void>> = [];
  try {
    const { net, core, dirs } = await startWorld({ after: (fn) => void after.push(fn) });
    await startServers(core);
    const kindOf = async (p: PunchPair) => (await transportTo(p.two, p.b.apiFile, p.a.pk, undefined, 30_000)).kind;
    const pair = async (o1: Parameters<typeof net.home>[1], o2: Parameters<typeof net.home>[1], i: number, env = {}) =>
      startPair(core, (await net.home(`H${i}`, o1)) as HomeNetwork, await net.home(`H${i + 1}`, o2), dirs, env);

    console.log(loadLine());
    // Endpoint-independent NAT on both sides: B logs at info level, so the times can be read from its log.
    const punch = await pair({ silent: true }, { silent: true }, 1, { LOG_LEVEL: 'info' });
    if ((await transportTo(punch.two, punch.b.apiFile, punch.a.pk, 'punched', 30_000)).kind !== 'punched') cannotMeasure('the first punch failed');
    const times: number[] = [];
    const fromDial: number[] = [];
    for (let i = 0; i < tries; i++) {
      const ms = await oneTry(punch, 15_000);
      if (ms === null) continue;
      times.push(ms.fromRelayed);
      fromDial.push(ms.fromDial);
    }
    const ok = times.length;
    const stat = (xs: number[]) => (xs.length ? `median ${median(xs).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms` : '-');
    console.log(`masquerade <-> masquerade (silent routers): ${ok} of ${tries} punched (${((ok / tries) * 100).toFixed(0)}%; goal 100%)`);
    console.log(`  relayed transport up to punched: ${stat(times)} (goal < 1000 ms)`);
    console.log(`  first dial to punched: ${stat(fromDial)} (the direct dial a silent router swallows takes its 5 s timeout first)`);
    const direct = await pair({ silent: true, forward: [7120] }, { silent: true }, 3);
    if ((await kindOf(direct)) !== 'direct') cannotMeasure(`the baseline pair (a forwarded port) is ${await kindOf(direct)}, not direct`);
    const random = await pair({ silent: true }, { silent: true, randomPorts: true }, 5);
    const rkind = await kindOf(random);

    const best = { direct: 0, punched: 0, relayed: 0 };
    const links = [['direct', direct], ['punched', punch], ['relayed', random]] as const;
    for (let r = 0; r < rounds; r++) {
      // Each round in another order, so that no kind always runs first.
      for (let k = 0; k < links.length; k++) {
        const [kind, p] = links[(k + r) % links.length];
        best[kind] = Math.max(best[kind], await throughput(p, core, kind));
      }
    }
    const pkind = await kindOf(punch);
    const rkindAfter = await kindOf(random);
    if (pkind !== 'punched') cannotMeasure(`the punched link became ${pkind} during the transfers`);
    console.log(`masquerade <-> masquerade random: ${rkind} before and ${rkindAfter} after ${rounds} transfers of 100 MB (expected: relayed)`);

    console.log(loadLine());
    const pct = (x: number) => `${((x / best.direct) * 100).toFixed(0)}% of direct`;
    console.log(`100 MB through SOCKS over a direct transport (forwarded port, baseline): ${best.direct.toFixed(0)} MB/s (best of ${rounds})`);
    console.log(`100 MB through SOCKS over a punched transport: ${best.punched.toFixed(0)} MB/s (${pct(best.punched)}; goal >= 90%)`);
    console.log(`100 MB through SOCKS over a relayed transport: ${best.relayed.toFixed(0)} MB/s (${pct(best.relayed)})`);
  } finally {
    for (const fn of after) await fn();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => cannotMeasure(err.message),
);
