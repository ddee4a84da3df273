// Hole punching in the netns lab (docs/reachability.md): two nodes behind two masquerading home routers, neither
// forwarding a port, end up with a `punched` transport, coordinated over their relayed one; a stream open across
// the switch arrives byte for byte, and 100 MB over the punched link arrive intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../netns/lab.js';
import { CLI, dashboardKind, startWorld, transportTo } from './nat-world.js';
import { BIG, fetchBig, finishPump, startPair, startPump, startServers } from './punch-world.js';

const skip = await labSkipReason({ tools: ['nft', 'curl'] });

test('punch: behind two silent masquerading routers the relayed link becomes punched; a stream crosses the switch intact, then 100 MB', { skip, timeout: 90_000 }, async (t) => {
  const { net, core, dirs } = await startWorld(t);
  const h1 = await net.home('H1', { silent: true });
  // H2 starts with random ports, so the first punch fails and a stream can be opened on the relayed link first.
  const h2 = await net.home('H2', { silent: true, randomPorts: true });
  await startServers(core);
  const p = await startPair(core, h1, h2, dirs);
  assert.equal((await transportTo(p.two, p.b.apiFile, p.a.pk, undefined, 20_000)).kind, 'relayed');
  await p.b.proc.waitFor(/hole punch failed, the transport stays relayed/, 15_000, 'stderr');

  const pump = startPump(p, core);
  await pump.waitFor(/flowing/, 20_000, 'stdout');
  await net.setRandomPorts(h2, false); // the router now keeps ports: the next punch goes through
  await transportTo(p.two, p.b.apiFile, p.a.pk, 'punched', 30_000);
  await transportTo(p.one, p.a.apiFile, p.b.pk, 'punched', 5000);
  await p.b.proc.waitFor(/relayed transport upgraded to punched/, 5000, 'stderr');
  await dashboardKind(core, p.b.pk, p.a.pk, 'punched'); // the manager's dashboard shows the kind too
  assert.ok((await finishPump(pump)) > 256 * 1024);

  await fetchBig(p, core);
  const st = JSON.parse((await p.two.host.exec(process.execPath, [CLI, 'node', 'status', '--json', '--api-file', p.b.apiFile])).stdout) as {
    transports: Array<{ pk: string; kind: string; bytesIn: number }>;
    streams: Array<{ repairs?: number }>;
  };
  const tr = st.transports.find((x) => x.pk === p.a.pk)!;
  assert.equal(tr.kind, 'punched', 'the transfer went over the punched link');
  assert.ok(tr.bytesIn > BIG, `the punched transport carried the 100 MB (bytesIn ${tr.bytesIn})`);
  assert.ok(st.streams.every((s) => !s.repairs), 'no route was repaired across the switch');
});
