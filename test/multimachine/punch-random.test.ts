// Through a router that maps each connection to a new random port (`masquerade random`, "symmetric" NAT), the
// port a node names for its punch is not the one its router uses, so punching fails: the link stays relayed,
// one line at the default level says why, and 100 MB still arrive intact over the relay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../netns/lab.js';
import { dashboardKind, startWorld, transportTo } from './nat-world.js';
import { fetchBig, startPair, startServers } from './punch-world.js';

const skip = await labSkipReason({ tools: ['nft', 'curl'] });

test('punch: behind a port-randomising router punching fails gracefully, the link stays relayed, says why once, and 100 MB arrive intact', { skip, timeout: 90_000 }, async (t) => {
  const { net, core, dirs } = await startWorld(t);
  const h1 = await net.home('H1', { silent: true });
  const h2 = await net.home('H2', { silent: true, randomPorts: true });
  // B logs at debug level too, so its later punches show (at debug level: not repeated at the default level).
  await startServers(core);
  const p = await startPair(core, h1, h2, dirs, { LOG_LEVEL: 'debug' });
  assert.equal((await transportTo(p.two, p.b.apiFile, p.a.pk, undefined, 20_000)).kind, 'relayed');
  const why = await p.b.proc.waitFor(/"level":"warn".*"msg":"hole punch failed, the transport stays relayed".*/, 15_000, 'stderr');
  assert.match(why[0], /no simultaneous open from local port \d+ within \d+ ms/, 'the line says what was tried');
  assert.match(why[0], /new port/, 'and what defeats it');

  await fetchBig(p, core);
  assert.equal((await transportTo(p.two, p.b.apiFile, p.a.pk)).kind, 'relayed', 'still relayed');
  assert.equal((await transportTo(p.one, p.a.apiFile, p.b.pk)).kind, 'relayed');
  await dashboardKind(core, p.b.pk, p.a.pk, 'relayed');
  // It tries again (with backoff), but says so at the default level only once.
  await p.b.proc.waitFor(/"level":"debug".*"msg":"hole punch failed, the transport stays relayed"/, 30_000, 'stderr');
  const lines = p.b.proc.stderr.split('\n').filter((l) => /hole punch failed/.test(l) && !/"level":"debug"/.test(l));
  assert.equal(lines.length, 1, lines.join('\n'));
});
