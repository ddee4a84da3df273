// Control messages from a trusted node manager are checked for shape before use: wrong types and ranges are
// answered with bad_request and change nothing; the real node process keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { dialSecure } from '../../src/net/tcp.js';
import { ControlLink, type ControlError } from '../../src/net/control-link.js';
import { parseHostPort } from '../../src/util/hostport.js';
import { status, testCluster } from './harness.js';

test('malformed control messages from a trusted manager are refused field by field; the node keeps serving', async (t) => {
  const { c } = testCluster(t);
  await c.startCore();
  const mgr = generateKeyPair();
  const mpk = pkToHex(mgr.publicKey);
  const node = await c.node([], ['--manager', mpk]);
  const { host, port } = parseHostPort(node.info.listen);
  const ch = await dialSecure(host, port, Buffer.from(node.pk, 'hex'), { localKey: mgr });
  ch.write(Buffer.from('C'));
  const link = new ControlLink(ch, () => {});
  t.after(() => link.close());

  const refused = async (m: Record<string, unknown>, re: RegExp) => {
    await assert.rejects(link.request(m as { t: string }, 5000), (e: ControlError) => {
      assert.equal(e.code, 'bad_request', `${JSON.stringify(m)}: ${e.message}`);
      assert.match(e.message, re);
      return true;
    });
  };
  for (const count of [null, '5', -1, 0, 1.5, 1e9, [3]]) await refused({ t: 'reserve', count }, /count must be an integer/);
  const { ids } = (await link.request({ t: 'reserve', count: 4 })) as unknown as { ids: number[] };
  assert.equal(ids.length, 4);
  const other = pkToHex(generateKeyPair().publicKey);
  const good = { routeId: ids[0], fromPk: other, kind: 'intermediary', nextPk: other, nextRouteId: 5 };
  const badRules: Array<[unknown, RegExp]> = [
    [null, /rules must be a list/],
    [[], /rules must be a list/],
    [{ 0: good }, /rules must be a list/],
    [[null], /rules\[0\] must be an object/],
    [[[good]], /rules\[0\] must be an object/],
    [[{ ...good, routeId: String(ids[0]) }], /routeId must be a route id/],
    [[{ ...good, fromPk: undefined }], /fromPk must be a public key/],
    [[{ ...good, nextPk: 7 }], /nextPk must be a public key/],
    [[{ ...good, nextRouteId: -1 }], /nextRouteId must be a route id/],
    [[{ ...good, kind: 'teleport' }], /kind must be/],
    [[{ ...good, kind: 'consume' }], /needs an "end" or a "reroute"/],
    [[{ ...good, kind: 'consume', end: { outPk: other, outRouteId: 1, remotePk: other, remotePort: '7', localPort: 7, initiator: true } }], /remotePort must be a port/],
    [[{ ...good, kind: 'consume', end: { outPk: other, outRouteId: 1, remotePk: other, remotePort: 7, localPort: 7, initiator: 'yes' } }], /initiator must be a boolean/],
    [[good, { ...good, routeId: 99 }], /route id 99 was not reserved/],
  ];
  for (const [rules, re] of badRules) await refused({ t: 'install', routeKey: 'k1', rules }, re);
  await refused({ t: 'install', routeKey: null, rules: [good] }, /routeKey must be/);
  await refused({ t: 'install', routeKey: 'x'.repeat(1000), rules: [good] }, /routeKey must be/);
  await refused({ t: 'remove', id: undefined, routeKey: { k: 1 } } as Record<string, unknown>, /routeKey must be/);
  await refused({ t: 'removeIds', ids: 'all' }, /ids must be a list/);
  await refused({ t: 'removeIds', ids: [null] }, /ids\[0\] must be a route id/);
  await refused({ t: 'switch', routeKey: [] }, /routeKey must be/);
  // Nothing was installed by the refused messages, and the ids stay reserved for a well-formed install.
  assert.deepEqual((await status(node.apiFile)).rules, []);
  await link.request({ t: 'install', routeKey: 'k1', rules: [good] });
  const rules = (await status(node.apiFile)).rules as Array<{ id: number; kind: string; nextPk: string }>;
  assert.deepEqual(
    rules.map((r) => [r.id, r.kind, r.nextPk]),
    [[ids[0], 'intermediary', other]],
  );
  assert.equal(node.child.exitCode, null, node.stderr());
});
