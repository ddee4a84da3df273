// What a node loads: an idle node's memory is mostly the runtime and the code it loads (docs/node.md, Memory).
// @noble/curves and tiny-secp256k1 (WebAssembly) cost about 10 MB each in a process that loads them; a node has
// OpenSSL's secp256k1 and checks no statements, so it must not load them. The metering's offline checks and the
// chat app still use them (loaded when needed). Likewise the VPN's modules, in a node that runs no VPN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compiled, staticImports } from '../helpers/import-graph.js';

const HEAVY = ['@noble/curves/secp256k1.js', 'tiny-secp256k1'];

test('skywire node and the VPN apps load neither @noble/curves nor tiny-secp256k1 at start', () => {
  for (const entry of ['cli/skywire.js', 'cli/skywire-node.js', 'cli/skywire-vpn-client.js', 'cli/skywire-vpn-server.js']) {
    const { files, packages } = staticImports([compiled(entry)]);
    assert.ok(files.size > (entry === 'cli/skywire.js' ? 2 : 30), `the walk follows imports from ${entry} (${files.size} files)`);
    for (const heavy of HEAVY) assert.equal(packages.get(heavy), undefined, `${entry}: ${packages.get(heavy)} imports ${heavy}`);
  }
});

test('a node without --vpn-server/--vpn-client loads none of the VPN code', () => {
  const { files } = staticImports([compiled('cli/skywire-node.js')]);
  const apps = [...files].filter((f) => f.includes('/src/apps/'));
  assert.deepEqual(apps, [], 'modules of src/apps in the static import graph of skywire node');
  // The check itself works: the in-node VPN module does import them.
  assert.ok([...staticImports([compiled('cli/vpn-in-node.js')]).files].some((f) => f.includes('/src/apps/vpn/')));
});

test('the check sees those packages where they are imported', () => {
  assert.ok(staticImports([compiled('apps/chat/crypto.js')]).packages.has('@noble/curves/secp256k1.js'));
  assert.ok(staticImports([compiled('node/metering/verify-pool.js')]).packages.has('tiny-secp256k1'));
});
