// Hole punching through routers that answer an unsolicited SYN with a reset (Linux's default when nothing
// listens on the router), which a naive probe never got through (docs/reachability.md): the dial synchronised
// over the relay (DCUtR timing) has both SYNs leave their routers before the other's arrives. The routers' links
// have 20 ms of delay, as real ones have more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../netns/lab.js';
import { startWorld, transportTo, transports } from './nat-world.js';
import { finishPump, startPair, startPump, startServers } from './punch-world.js';

const skip = await labSkipReason({ tools: ['nft'], tun: true });

test('punch: through routers that reset unsolicited SYNs (the Linux default), with 20 ms of delay, the synchronised dial gets through', { skip, timeout: 60_000 }, async (t) => {
  const { net, core, dirs } = await startWorld(t);
  const h1 = await net.home('H1', { delayMs: 20 });
  const h2 = await net.home('H2', { delayMs: 20 });
  await startServers(core);
  const p = await startPair(core, h1, h2, dirs);
  await transportTo(p.two, p.b.apiFile, p.a.pk, 'punched', 25_000);
  await transportTo(p.one, p.a.apiFile, p.b.pk, 'punched', 5000);
  const pump = startPump(p, core);
  await pump.waitFor(/flowing/, 20_000, 'stdout');
  await finishPump(pump);
  assert.equal((await transports(p.two, p.b.apiFile)).find((x) => x.pk === p.a.pk)?.kind, 'punched');
});
