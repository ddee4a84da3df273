// Nodes behind home routers (nftables masquerade) in the netns lab: the messenger tells each node the address
// it saw, so a node whose router forwards its port is reached directly without --announce; without a forward,
// or behind a port-randomising router, the link is relayed by the messenger, says why, and carries routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { labSkipReason } from '../netns/lab.js';
import { machine, ping, startNode, startWorld, transportTo, type Machine } from './nat-world.js';

const skip = await labSkipReason({ tools: ['nft'] });

test('NAT: a node behind a router that forwards its port is reached directly through the address the messenger observed', { skip, timeout: 60_000 }, async (t) => {
  const { net, core, dirs } = await startWorld(t);
  const home = await net.home('H', { forward: [7120] });
  const pub = await net.publicHost('P');
  const h = machine(home.host, dirs);
  const p = machine(pub.host, dirs);

  const behind = await startNode(h, core); // no --announce
  // What the messenger lists for it: its LAN address, and the router's public address with its listen port.
  const lookup = await s_lookup(core.s, core.messenger, behind.pk);
  assert.ok(lookup.includes(`${home.publicIp}:7120`), `announced ${JSON.stringify(lookup)}`);
  assert.ok(!lookup.some((a) => a.startsWith('0.0.0.0')), 'no wildcard announced');

  const outside = await startNode(p, core, ['--connect', behind.pk]);
  const tr = await transportTo(p, outside.apiFile, behind.pk);
  assert.equal(tr.kind, 'direct');
  await ping(p, outside.apiFile, behind.pk);
});

test('NAT: without a forward (masquerade, and masquerade random) the link is relayed, says why, and carries a route', { skip, timeout: 60_000 }, async (t) => {
  const { net, core, dirs } = await startWorld(t);
  const one = machine((await net.home('H1')).host, dirs);
  const two = machine((await net.home('H2', { randomPorts: true })).host, dirs);
  const a = await startNode(one, core);
  const b = await startNode(two, core, ['--connect', a.pk]);
  const tr = await transportTo(two, b.apiFile, a.pk);
  assert.equal(tr.kind, 'relayed');
  await b.proc.waitFor(/transport relayed by the messenger.*no announced address answered/, 5000, 'stderr');
  await ping(two, b.apiFile, a.pk);
});

/** The addresses the messenger lists for `pk`, looked up by a throwaway client on machine S. */
async function s_lookup(s: Machine, messenger: string, pk: string): Promise<string[]> {
  const script = [
    "const { MessengerClient, parseMessengerAddress } = await import(process.argv[1]);",
    "const { generateKeyPair } = await import(process.argv[2]);",
    "const c = new MessengerClient({ localKey: generateKeyPair(), messengers: [parseMessengerAddress(process.argv[3])] });",
    'await c.start();',
    'const e = await c.lookup(process.argv[4]);',
    'console.log(JSON.stringify(e ? e.addresses : null));',
    'await c.close();',
  ].join('\n');
  const mod = fileURLToPath(new URL('../../src/messenger/index.js', import.meta.url));
  const keys = fileURLToPath(new URL('../../src/net/keys.js', import.meta.url));
  const r = await s.host.exec(process.execPath, ['--input-type=module', '-e', script, mod, keys, messenger, pk]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}
