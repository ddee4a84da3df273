// One node manager for the route-setup bench, in its own process: the real NodeManager (sharing Redis) with a
// synthetic mesh of N nodes, each a control link over an in-memory pipe that answers `reserve` and `install` at once,
// so what is measured is the manager's own work per setup (path search on the whole graph, id pools, the install
// round, the Redis claim) and none of the nodes'. Protocol on stdio: prints {"ready":true} once every node reported
// its transports; on each line "go" it dials for DURATION ms from CONC loops and prints {"setups","failed","ms"};
// on "exit" it ends.
// argv: messenger REDIS_URL NODES ID_BASE DURATION_MS CONC
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { generateKeyPair } from '../../src/net/keys.js';
import type { ControlLink } from '../../src/net/control-link.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';
import { NodeManager } from '../../src/nodemanager/manager.js';
import { parseRedisUrl } from '../../src/util/redis-url.js';
import { attachFake, idCounter } from '../../test/nodemanager/fake-nodes.js';

const [messenger, redisUrl, nodesArg, baseArg, durationArg, concArg] = process.argv.slice(2);
const N = Number(nodesArg);
const DEGREE = 5;

/** The same graph in every worker: keys and edges from a hash of the index. */
const pkOf = (i: number) => `02${createHash('sha256').update(`bench-node-${i}`).digest('hex')}`;
function synthGraph(n: number): string[][] {
  const adj: Array<Set<number>> = Array.from({ length: n }, () => new Set());
  for (let i = 0; i < n; i++) {
    const h = createHash('sha256').update(`bench-edges-${i}`).digest();
    for (let k = 0; k < DEGREE; k++) {
      const j = h.readUInt32BE(k * 4) % n;
      if (j !== i) {
        adj[i]!.add(j);
        adj[j]!.add(i);
      }
    }
  }
  return adj.map((s) => [...s].map(pkOf));
}

async function main(): Promise<void> {
  const mgr = new NodeManager({
    localKey: generateKeyPair(),
    messengers: [parseMessengerAddress(messenger!)],
    redis: { url: parseRedisUrl(redisUrl!) },
  });
  await mgr.start();
  const graph = synthGraph(N);
  // Ids from a range of this worker's own (each worker has its own copy of the nodes), so they never collide.
  const ids = idCounter(Number(baseArg));
  const links: ControlLink[] = [];
  for (let i = 0; i < N; i++) {
    const fake = attachFake(mgr, pkOf(i), graph[i]!.map((pk) => ({ pk, latencyMs: 1 + (pk.charCodeAt(5) % 9) })), ids);
    links.push(fake.links.get(mgr.pkHex)!);
  }
  const edges = graph.reduce((s, l) => s + l.length, 0) / 2;
  while (mgr.graph.edges().length < edges) await new Promise((r) => setTimeout(r, 50));
  // Ready once Redis has every node's report (what a manager writes when its nodes connect), not while it is behind.
  await mgr.shared!.flush();
  console.log(JSON.stringify({ ready: true, nodes: mgr.graph.nodeCount, edges: mgr.graph.edges().length }));
  let seed = Number(baseArg);
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % N;
  // One round per "go" line (the graph is built once); "exit" ends the worker.
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'exit') break;
    if (line === 'go') console.log(JSON.stringify(await dialFor(Number(durationArg), Number(concArg), links, rnd)));
  }
  for (const l of links) l.close('bench over');
  await mgr.close();
  process.exit(0);
}

/** Dials from `conc` loops for `ms` between random simulated nodes, closing each route once set up. */
async function dialFor(ms: number, conc: number, links: ControlLink[], rnd: () => number) {
  let setups = 0;
  let failed = 0;
  let lastError = '';
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() < end) {
        const from = rnd();
        let to = rnd();
        if (to === from) to = (to + 1) % N;
        try {
          const r = await links[from]!.request({ t: 'dial', to: pkOf(to), port: 7, fromPort: 9 }, 10_000);
          setups++;
          links[from]!.send({ t: 'closed', routeKey: r.routeKey as string });
        } catch (err) {
          failed++;
          lastError = (err as Error).message;
        }
      }
    }),
  );
  return { setups, failed, ms: performance.now() - t0, lastError };
}

main().catch((err: Error) => {
  console.error(err.stack);
  process.exit(1);
});
