// What a peer can make a node do with hole-punch messages (docs/reachability.md, Hole punching): the shape of each
// message is checked, a malformed one is dropped without harming the transport, punches are rate limited per
// peer, and a node only ever dials the IPs in the peer's own messenger entry, never loopback. Nodes in this
// process on loopback, the relayed transport between them real (the punch itself needs two NATs: test/multimachine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { decodePunch, sendPunch, type PunchMessage } from '../../src/node/punch-message.js';
import { punchIps } from '../../src/node/hole-punch.js';
import { PacketType } from '../../src/node/packet.js';
import type { Transport } from '../../src/node/transport.js';
import { setLogSink } from '../../src/util/log.js';
import { waitFor } from './harness.js';
import { inProcessMesh } from './inprocess-mesh.js';

test('punch messages: only the known shapes pass, with an unprivileged port and a positive id', () => {
  const dec = (v: unknown) => decodePunch(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)));
  assert.deepEqual(dec({ punch: 'connect', id: 7, port: 40000 }), { punch: 'connect', id: 7, port: 40000 });
  assert.deepEqual(dec({ punch: 'sync', id: 7, extra: 'ignored' }), { punch: 'sync', id: 7 });
  assert.deepEqual(dec({ punch: 'refuse', id: 7, why: 'x'.repeat(500).slice(0, 200) }), { punch: 'refuse', id: 7, why: 'x'.repeat(120) });
  for (const [bad, why] of [
    ['{', /not JSON/],
    ['[1]', /not an object/],
    ['null', /not an object/],
    [{ punch: 'connect', id: 7, port: 22 }, /port 22 is not an integer in 1024\.\.65535/],
    [{ punch: 'connect', id: 7, port: 70000 }, /port 70000/],
    [{ punch: 'connect', id: 7, port: '40000' }, /port "40000"/],
    [{ punch: 'connect', id: 7, port: 40000, host: '198.51.100.1' }, null], // an address field is simply never read
    [{ punch: 'sync', id: 0 }, /id 0 is not an integer/],
    [{ punch: 'sync', id: 1.5 }, /id 1.5/],
    [{ punch: 'dial', id: 7, host: '198.51.100.1', port: 80 }, /unknown punch message "dial"/],
    [JSON.stringify({ punch: 'sync', id: 7, pad: 'x'.repeat(300) }), /at most 256/],
  ] as const) {
    const r = dec(bad);
    if (why === null) assert.deepEqual(r, { punch: 'connect', id: 7, port: 40000 });
    else assert.match(String(r), why, JSON.stringify(bad).slice(0, 80));
  }
});

test('punch addresses: the public IPs of the peer entry only, never loopback, private, link-local, a wildcard or a name; four at most', () => {
  const never = ['127.0.0.1', '0.0.0.0', '[::1]', '[::]', 'example.com', '10.1.0.2', '172.16.0.1', '172.31.9.9', '192.168.1.1', '169.254.1.1', '100.64.0.1', '224.0.0.1', '[fd00::1]', '[fe80::1]', '[ff02::1]'];
  assert.deepEqual(punchIps([...never.map((h) => `${h}:7120`), 'garbage', '203.0.113.6:7120', '203.0.113.6:9', '172.32.0.1:1', '[2001:db8::1]:7120']), [
    '203.0.113.6',
    '172.32.0.1',
    '2001:db8::1',
  ]);
  assert.equal(punchIps(['1.0.0.1:1', '1.0.0.2:1', '1.0.0.3:1', '1.0.0.4:1', '1.0.0.5:1']).length, 4);
});

/** Two nodes with a relayed transport from a (its dialer) to b; PUNCH packets b sends to a, as a list. */
async function relayedPair(t: { after(fn: () => Promise<void>): void }) {
  const { node } = await inProcessMesh(t);
  const b = await node();
  await b.messenger.announce({ addresses: [] }); // so a's dial goes through the relay (and a does not punch)
  const a = await node([b]);
  await waitFor('a relayed transport from a to b', () => a.transports.get(b.pkHex)?.kind === 'relayed');
  const ta = a.transports.get(b.pkHex)!;
  const answers: Array<PunchMessage | string> = [];
  ta.on('punch', (p: Buffer) => answers.push(decodePunch(p)));
  return { a, b, ta, answers };
}

test('a punch request is answered with a port; a second one within a second is refused; malformed ones are dropped and the transport lives', async (t) => {
  const { ta, answers } = await relayedPair(t);
  ta.send(PacketType.PUNCH, 0, Buffer.from('not json'));
  ta.send(PacketType.PUNCH, 0, Buffer.alloc(300, 0x7b));
  sendPunch(ta, { punch: 'connect', id: 1, port: 80 } as PunchMessage);
  sendPunch(ta, { punch: 'connect', id: 2, port: 40000 });
  await waitFor('the answer to the valid request', () => answers.length >= 1);
  // The malformed ones before it got no answer: the first answer is for request 2.
  const first = answers[0] as PunchMessage;
  assert.equal(first.punch, 'connect');
  assert.equal(first.id, 2);
  assert.ok((first as { port: number }).port >= 1024);
  sendPunch(ta, { punch: 'connect', id: 3, port: 40001 });
  await waitFor('the answer to the second request', () => answers.length >= 2);
  assert.deepEqual(answers[1], { punch: 'refuse', id: 3, why: 'at most one punch a 1000 ms per peer' });
  assert.ok(!ta.isClosed && ta.kind === 'relayed', 'the transport is still up');
});

test('a node answering a punch dials only the IPs the dialer announces: a dialer announcing only loopback gets no dial', async (t) => {
  const logged: string[] = [];
  const level = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = 'debug';
  setLogSink((line) => logged.push(line));
  t.after(() => {
    process.env.LOG_LEVEL = level;
    if (level === undefined) delete process.env.LOG_LEVEL;
    setLogSink((line) => process.stderr.write(line + '\n'));
  });
  const { a, ta, answers } = await relayedPair(t);
  assert.ok(a.announcedAddresses.every((x) => x.startsWith('127.')), `a announces loopback only: ${a.announcedAddresses.join(' ')}`);
  sendPunch(ta, { punch: 'connect', id: 9, port: 40000 });
  await waitFor('the answer', () => answers.length >= 1);
  sendPunch(ta, { punch: 'sync', id: 9 });
  await waitFor('b gives the punch up', () => logged.some((l) => /hole punch \(answering\) failed/.test(l)));
  assert.match(logged.find((l) => /hole punch \(answering\) failed/.test(l))!, /the dialer announces no public IP address to punch to/);
  // A sync for a punch that was never agreed (or already used) does nothing at all.
  const before = logged.length;
  sendPunch(ta, { punch: 'sync', id: 9 });
  const pong = once(ta as Transport, 'punch');
  sendPunch(ta, { punch: 'connect', id: 10, port: 40000 }); // refused: too soon, but answered, so b read the sync first
  await pong;
  assert.equal(logged.slice(before).filter((l) => /hole punch/.test(l)).length, 0, logged.slice(before).join('\n'));
});

test('a node answers at most 8 punches at once: a ninth peer asking meanwhile is refused', async (t) => {
  const { node } = await inProcessMesh(t);
  const b = await node();
  await b.messenger.announce({ addresses: [] });
  const dialers = await Promise.all(Array.from({ length: 9 }, () => node([b])));
  await waitFor('nine relayed transports to b', () => dialers.every((a) => a.transports.get(b.pkHex)?.kind === 'relayed'));
  const answers: Array<PunchMessage | string> = [];
  for (const [i, a] of dialers.entries()) {
    const ta = a.transports.get(b.pkHex)!;
    ta.on('punch', (p: Buffer) => answers.push(decodePunch(p)));
    sendPunch(ta, { punch: 'connect', id: i + 1, port: 40000 + i });
    // One at a time, so which one is the ninth is known.
    await waitFor(`the answer to request ${i + 1}`, () => answers.length === i + 1);
  }
  assert.deepEqual(answers.slice(0, 8).map((m) => (m as PunchMessage).punch), Array(8).fill('connect'));
  assert.deepEqual(answers[8], { punch: 'refuse', id: 9, why: 'at most 8 punches at once' });
});
