// Relayed vs direct: stream throughput over a one-hop route whose transport goes through the messenger relay
// (--relay-only) against one over a direct transport, each node its own process, in the same run; the relayed
// transport both through a messenger with window sizing (after) and through one from before it (fixed 1 MiB
// windows, bench/messenger/legacy-messenger.ts); and the time from a peer's announcement to the upgrade of a
// relayed transport to direct (in-process nodes, 5 tries). BENCH_ROUNDS: rounds (best of, default 2).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../../src/net/keys.js';
import { MessengerServer } from '../../src/messenger/server.js';
import { NodeManager } from '../../src/nodemanager/manager.js';
import { Node } from '../../src/node/node.js';
import { AppClient } from '../../src/node/sdk/index.js';
import { Cluster, dialRetry, waitTransports } from '../../test/node/harness.js';
import { blast } from '../common/blast.js';
import { loadLine, median } from '../common/report.js';
import { firstLine } from '../common/process.js';

async function throughput(c: Cluster, relayed: boolean): Promise<number> {
  const target = await c.node();
  const from = await c.node([target.pk], relayed ? ['--relay-only'] : []);
  await waitTransports(from, [target.pk]);
  const sink = await AppClient.connect({ apiFile: target.apiFile, name: 'sink', port: 9 });
  const client = await AppClient.connect({ apiFile: from.apiFile, name: 'bench' });
  let inbound: Socket | undefined;
  sink.listen((s) => (inbound = s));
  const out = await dialRetry(client, target.pk, 9);
  while (!inbound) await new Promise((r) => setTimeout(r, 5));
  const mbs = await blast(out, inbound);
  await Promise.all([sink.close(), client.close()]);
  await Promise.all([from.kill(), target.kill()]);
  return mbs;
}

/** A cluster whose messenger is one from before window sizing (its own process, returned), with a node manager. */
async function legacyCluster(): Promise<[Cluster, ChildProcess]> {
  const c = new Cluster();
  const script = fileURLToPath(new URL('../messenger/legacy-messenger.js', import.meta.url));
  const m = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => m.kill('SIGKILL'));
  c.messenger = (await firstLine(m, /^messenger listening on (\S+)$/))[1];
  const mgr = await c.spawn(['node-manager', '--key', `${c.dir}/manager.json`, '--messenger', c.messenger, '--json']);
  c.managerPk = mgr.info.pk;
  return [c, m];
}

async function upgradeTimes(n: number): Promise<number[]> {
  const server = new MessengerServer({ key: generateKeyPair(), host: '127.0.0.1', port: 0 });
  const messengers = [{ pk: server.publicKey, ...(await server.listen()) }];
  const manager = new NodeManager({ localKey: generateKeyPair(), messengers });
  await manager.start();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = new Node({ localKey: generateKeyPair(), messengers, managers: [manager.pkHex] });
    await b.start();
    await b.messenger.announce({ addresses: [] });
    const a = new Node({ localKey: generateKeyPair(), messengers, managers: [manager.pkHex], connect: [b.pkHex] });
    await a.start();
    const kind = () => (a.status().transports as Array<{ pk: string; kind: string }>).find((x) => x.pk === b.pkHex)?.kind;
    while (kind() !== 'relayed') await new Promise((r) => setTimeout(r, 10));
    const t0 = performance.now();
    await b.announce([]);
    while (kind() !== 'direct') await new Promise((r) => setTimeout(r, 10));
    times.push(performance.now() - t0);
    await Promise.all([a.close(), b.close()]);
  }
  await manager.close();
  await server.close();
  return times;
}

async function main(): Promise<void> {
  console.log(loadLine());
  const c = new Cluster();
  const [old, oldMessenger] = await legacyCluster();
  try {
    await c.startCore();
    let [direct, relayed, before] = [0, 0, 0];
    for (let r = 0; r < Number(process.env.BENCH_ROUNDS ?? 2); r++) {
      direct = Math.max(direct, await throughput(c, false));
      before = Math.max(before, await throughput(old, true));
      relayed = Math.max(relayed, await throughput(c, true));
    }
    const pct = (x: number) => `${((x / direct) * 100).toFixed(0)}% of direct`;
    console.log(`1-hop route over a direct transport:  ${direct.toFixed(0)} MB/s`);
    console.log(`1-hop route over a relayed transport, fixed 1 MiB window (before): ${before.toFixed(0)} MB/s (${pct(before)})`);
    console.log(`1-hop route over a relayed transport, sized window (after):        ${relayed.toFixed(0)} MB/s (${pct(relayed)})`);
    console.log(
      `goal row: one stream relayed by the messenger ${pct(relayed)} (before: ${pct(before)}; same run; goal >= 50%: ` +
        `${relayed >= direct / 2 ? 'met' : 'NOT met'})`,
    );
  } finally {
    oldMessenger.kill('SIGKILL');
    await Promise.all([c.stop(), old.stop()]);
  }
  const times = await upgradeTimes(5);
  console.log(
    `announcement to direct (relayed transports are re-checked every 2 s): median ${median(times).toFixed(0)} ms, ` +
      `max ${Math.max(...times).toFixed(0)} ms (5 tries; goal < 5000 ms)`,
  );
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench failed: ${err.message}`);
    process.exit(1);
  },
);
