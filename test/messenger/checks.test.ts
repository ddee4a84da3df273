// What the messenger accepts from clients (HELLO, ANNOUNCE, QUERY, and MessengerClient.announce before sending):
// every limit of docs/messenger.md, a reason naming the field, unknown fields dropped. And the client and server
// load without zod, whose mere presence in a process costs a node about a third of its route throughput.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compiled, staticImports } from '../helpers/import-graph.js';
import { checkAnnounce, checkHello, checkQuery, ENTRY_LIMITS, type Checked } from '../../src/messenger/types.js';

function problem<T>(r: Checked<T>): string {
  assert.equal(r.ok, false, `accepted: ${JSON.stringify(r)}`);
  return (r as { error: string }).error;
}

function value<T>(r: Checked<T>): T {
  assert.ok(r.ok, `refused: ${(r as { error: string }).error}`);
  return r.value;
}

test('a valid entry passes as it is; fields the messenger does not know are dropped, a claimed key included', () => {
  const entry = {
    addresses: ['10.0.0.1:5000', '[::1]:80', 'example.org:1'],
    services: [{ name: 'socks', port: 1080, attrs: { country: 'de', exit: '' } }, { name: 'chat', port: 0 }],
  };
  assert.deepEqual(value(checkAnnounce(entry)), entry);
  assert.deepEqual(value(checkAnnounce({})), {});
  assert.deepEqual(value(checkAnnounce({ pk: '02ab', extra: 1 })), {});
  assert.deepEqual(value(checkHello({ version: 1, pk: '02ab', publicKey: '02ab', ...entry })), { version: 1, ...entry });
  assert.deepEqual(value(checkQuery({ service: 'socks', attr: { key: 'k', value: 'v', x: 1 }, offset: 3, limit: 100, y: 2 })), {
    service: 'socks',
    attr: { key: 'k', value: 'v' },
    offset: 3,
    limit: 100,
  });
  // An attribute named __proto__ stays an attribute: nothing reaches a prototype.
  const attrs = value(checkAnnounce(JSON.parse('{"services":[{"name":"x","port":1,"attrs":{"__proto__":"v"}}]}'))).services![0].attrs!;
  assert.equal(Object.getPrototypeOf(attrs), Object.prototype);
  assert.deepEqual(Object.keys(attrs), ['__proto__']);
});

test('every limit is enforced, and the reason names the field', () => {
  const svc = (s: Record<string, unknown>) => ({ services: [{ name: 'x', port: 1, ...s }] });
  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
  const announceCases: Array<[unknown, RegExp]> = [
    [null, /^value: .*expected object, received null/],
    [[], /^value: .*expected object, received array/],
    [{ addresses: 'x' }, /^addresses: .*expected array/],
    [{ addresses: [1] }, /^addresses\.0: .*expected string/],
    [{ addresses: ['not an address'] }, /^addresses\.0: address must be HOST:PORT$/],
    [{ addresses: ['1.2.3.4:99999'] }, /^addresses\.0: address must be HOST:PORT$/],
    [{ addresses: [`${'h'.repeat(ENTRY_LIMITS.addressChars)}:1`] }, /^addresses\.0: Too big: .*<=270 characters/],
    [{ addresses: Array(ENTRY_LIMITS.addresses + 1).fill('1.2.3.4:5') }, /^addresses: Too big: .*<=16 items/],
    [{ services: null }, /^services: .*expected array, received null/],
    [{ services: Array(ENTRY_LIMITS.services + 1).fill({ name: 'x', port: 1 }) }, /^services: Too big: .*<=32 items/],
    [{ services: [5] }, /^services\.0: .*expected object/],
    [{ services: [{ port: 1 }] }, /^services\.0\.name: .*expected string, received undefined/],
    [svc({ name: '' }), /^services\.0\.name: Too small/],
    [svc({ name: 'x'.repeat(ENTRY_LIMITS.nameChars + 1) }), /^services\.0\.name: Too big: .*<=64 characters/],
    [svc({ port: '1' }), /^services\.0\.port: .*expected number, received string/],
    [svc({ port: 1.5 }), /^services\.0\.port: .*expected int/],
    [svc({ port: NaN }), /^services\.0\.port: .*received NaN/],
    [svc({ port: -1 }), /^services\.0\.port: Too small: .*>=0/],
    [svc({ port: 65536 }), /^services\.0\.port: Too big: .*<=65535/],
    [svc({ extra: 1 }), /^services\.0: Unrecognized key: "extra"$/],
    [svc({ a: 1, b: 2 }), /^services\.0: Unrecognized keys: "a", "b"$/],
    [svc({ attrs: [] }), /^services\.0\.attrs: .*expected record, received array/],
    [svc({ attrs: many(ENTRY_LIMITS.attrs + 1) }), /^services\.0\.attrs: at most 16 attributes$/],
    [svc({ attrs: { '': 'v' } }), /^services\.0\.attrs: Invalid key/],
    [svc({ attrs: { ['k'.repeat(ENTRY_LIMITS.attrKeyChars + 1)]: 'v' } }), /^services\.0\.attrs: Invalid key/],
    [svc({ attrs: { k: 5 } }), /^services\.0\.attrs\.k: .*expected string, received number/],
    [svc({ attrs: { k: 'v'.repeat(ENTRY_LIMITS.attrValueChars + 1) } }), /^services\.0\.attrs\.k: Too big: .*<=256 characters/],
  ];
  for (const [input, reason] of announceCases) {
    assert.match(problem(checkAnnounce(input)), reason, JSON.stringify(input)?.slice(0, 80));
    // HELLO carries the same fields under the same rules.
    if (input && typeof input === 'object' && !Array.isArray(input)) {
      assert.match(problem(checkHello({ version: 1, ...input })), reason);
    }
  }
  // At the limits themselves, everything passes.
  value(checkAnnounce({ addresses: Array(16).fill(`${'h'.repeat(ENTRY_LIMITS.addressChars - 6)}:65535`) }));
  value(checkAnnounce({ services: Array(32).fill({ name: 'n'.repeat(64), port: 65535, attrs: many(16) }) }));

  assert.match(problem(checkHello({})), /^version: .*expected number, received undefined/);
  assert.match(problem(checkHello({ version: '1' })), /^version: .*expected number, received string/);
  assert.match(problem(checkHello({ version: 1.5 })), /^version: .*expected int/);

  const queryCases: Array<[unknown, RegExp]> = [
    [null, /^value: /],
    [{ service: '' }, /^service: Too small/],
    [{ service: 'x'.repeat(65) }, /^service: Too big/],
    [{ attr: 'x' }, /^attr: .*expected object/],
    [{ attr: {} }, /^attr\.key: .*received undefined/],
    [{ attr: { key: '', value: '' } }, /^attr\.key: Too small/],
    [{ attr: { key: 'k', value: 5 } }, /^attr\.value: .*expected string/],
    [{ attr: { key: 'k', value: 'v'.repeat(257) } }, /^attr\.value: Too big/],
    [{ offset: -1 }, /^offset: Too small/],
    [{ offset: 0.5 }, /^offset: .*expected int/],
    [{ limit: 0 }, /^limit: Too small: .*>=1/],
    [{ limit: 101 }, /^limit: Too big: .*<=100/],
    [{ limit: '5' }, /^limit: .*expected number, received string/],
  ];
  for (const [input, reason] of queryCases) assert.match(problem(checkQuery(input)), reason, JSON.stringify(input));
});

test('the messenger client and server load without zod', () => {
  // zod sets globalThis.__zod_globalConfig when it loads, so its absence shows that nothing imported it.
  const mods = ['client.js', 'server.js', 'index.js'].map((m) => new URL(`../../src/messenger/${m}`, import.meta.url).href);
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `for (const m of ${JSON.stringify(mods)}) await import(m); console.log(typeof globalThis.__zod_globalConfig);`],
    { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'undefined');
  // The check itself works: loading zod does set it.
  const z = spawnSync(process.execPath, ['--input-type=module', '-e', `await import('zod'); console.log(typeof globalThis.__zod_globalConfig);`], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  assert.equal(z.stdout.trim(), 'object', z.stderr);
});

test('the messenger client and server never load the Redis client (only `skywire messenger --redis` does)', () => {
  // The static import graph of the compiled modules: every node and app loads the client, so ioredis stays out.
  const { files, packages } = staticImports(['client.js', 'server.js', 'index.js'].map((m) => compiled(`messenger/${m}`)));
  assert.ok([...files].some((f) => f.endsWith('peers.js')), 'the walk follows imports');
  assert.equal(packages.get('ioredis'), undefined, `${packages.get('ioredis')} imports ioredis`);
  // The check itself works: the shared directory does import it.
  assert.ok(staticImports([compiled('messenger/shared-directory.js')]).packages.has('ioredis'));
});
