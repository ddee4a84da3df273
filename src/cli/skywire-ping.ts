// `skywire ping PK [--hops N] [-c COUNT]`: round trips over a real route to the echo service every node runs,
// printed like ping(8), with a summary.
import { Command, InvalidArgumentError } from 'commander';
import { parseCommandLine } from './usage.js';
import type { Socket } from 'node:net';
import { parsePublicKey, pkToHex, shortPk } from '../net/keys.js';
import { AppClient, ECHO_PORT } from '../node/sdk/index.js';
import { installSignalHandlers, onShutdown } from '../util/lifecycle.js';

const PROBE_BYTES = 16;

function int(name: string, min: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return Number(v);
  };
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('skywire ping')
    .description('measure round trips to a node over a route chosen by the node manager')
    .argument('<PK>', 'public key of the node to ping')
    .option('--hops <n>', 'use a route of at least this many hops', int('--hops', 1))
    .option('-c, --count <n>', 'stop after this many probes', int('--count', 1), 4)
    .option('-i, --interval <ms>', 'time between probes', int('--interval', 1), 1000)
    .option('--api-file <file>', 'the local node API file (default SKYWIRE_APP_API_FILE)')
    .option('-k, --key <file>', 'the key file of the local node (its API file is <key>.api.json)')
    .option('--json', 'print the summary as one JSON line', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `skywire ping: ${s}` : s) });
  const usage = parseCommandLine(program, argv);
  if (usage !== undefined) return usage;
  const o = program.opts<{ hops?: number; count: number; interval: number; apiFile?: string; key?: string; json: boolean }>();
  if (!o.apiFile && o.key) o.apiFile = `${o.key.replace(/\.json$/, '')}.api.json`;
  let target: string;
  try {
    target = pkToHex(parsePublicKey(program.args[0]));
  } catch (err) {
    console.error(`skywire ping: ${(err as Error).message}`);
    return 2;
  }
  installSignalHandlers();
  let app: AppClient | undefined;
  let sock: Socket;
  const t0 = performance.now();
  try {
    app = await AppClient.connect({ apiFile: o.apiFile, name: 'ping' });
    onShutdown(() => app?.close());
    sock = await app.dial(target, ECHO_PORT, { minHops: o.hops });
  } catch (err) {
    console.error(`skywire ping: ${(err as Error).message}`);
    // The app's connection to the node would keep the process alive: close it so the exit code is seen.
    await app?.close();
    return 1;
  }
  const setupMs = performance.now() - t0;
  if (!o.json) console.log(`PING ${target}: route set up in ${setupMs.toFixed(1)} ms${o.hops ? ` (>= ${o.hops} hops)` : ''}`);
  const rtts: number[] = [];
  const sentAt = new Map<number, number>();
  let buf = Buffer.alloc(0);
  let failed: Error | undefined;
  const finished = new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= PROBE_BYTES) {
        const seq = buf.readUInt32BE(0);
        buf = buf.subarray(PROBE_BYTES);
        const at = sentAt.get(seq);
        if (at === undefined) continue;
        const rtt = performance.now() - at;
        rtts.push(rtt);
        if (!o.json) console.log(`${PROBE_BYTES} bytes from ${shortPk(target)}: seq=${seq} time=${rtt.toFixed(3)} ms`);
        if (rtts.length === o.count) resolve();
      }
    });
    sock.on('error', (err) => {
      failed = err;
      resolve();
    });
    sock.on('close', () => resolve());
  });
  const started = performance.now();
  let seq = 0;
  const send = () => {
    seq++;
    const probe = Buffer.alloc(PROBE_BYTES);
    probe.writeUInt32BE(seq, 0);
    sentAt.set(seq, performance.now());
    sock.write(probe);
  };
  send();
  const timer = setInterval(() => (seq < o.count ? send() : clearInterval(timer)), o.interval);
  // The last probe gets a grace period to come back.
  const deadline = setTimeout(() => sock.destroy(), o.interval * o.count + 5000);
  await finished;
  clearInterval(timer);
  clearTimeout(deadline);
  const total = performance.now() - started;
  sock.destroy();
  await app!.close();
  const sorted = [...rtts].sort((a, b) => a - b);
  const avg = rtts.reduce((a, b) => a + b, 0) / (rtts.length || 1);
  const mdev = Math.sqrt(rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / (rtts.length || 1));
  const loss = ((seq - rtts.length) / seq) * 100;
  if (o.json) {
    console.log(
      JSON.stringify({ pk: target, setupMs, sent: seq, received: rtts.length, min: sorted[0], avg, max: sorted[sorted.length - 1], mdev, rtts }),
    );
  } else {
    console.log(`--- ${shortPk(target)} ping statistics ---`);
    console.log(`${seq} probes transmitted, ${rtts.length} received, ${loss.toFixed(0)}% loss, time ${total.toFixed(0)} ms`);
    if (rtts.length) {
      console.log(
        `rtt min/avg/max/mdev = ${sorted[0].toFixed(3)}/${avg.toFixed(3)}/${sorted[sorted.length - 1].toFixed(3)}/${mdev.toFixed(3)} ms`,
      );
    }
  }
  if (failed) console.error(`skywire ping: ${failed.message}`);
  return rtts.length === seq ? 0 : 1;
}
