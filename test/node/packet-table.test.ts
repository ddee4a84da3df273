import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodePacket, PacketDecoder, PacketType, MAX_PAYLOAD, HEADER_BYTES } from '../../src/node/packet.js';
import { RoutingTable } from '../../src/node/routing-table.js';

test('packets round-trip through the decoder whatever the chunking', () => {
  const packets = [
    encodePacket(PacketType.DATA, 7, Buffer.from('hello')),
    encodePacket(PacketType.CLOSE, 0xffffffff),
    encodePacket(PacketType.DATA, 42, randomBytes(MAX_PAYLOAD)),
    encodePacket(PacketType.PING, 0, Buffer.alloc(8, 1)),
  ];
  const wire = Buffer.concat(packets);
  assert.deepEqual([...packets[0].subarray(0, HEADER_BYTES)], [0, 0, 0, 0, 7, 0, 5]);
  for (const size of [1, 3, 7, 100, 65536, wire.length]) {
    const d = new PacketDecoder();
    const got = [];
    for (let i = 0; i < wire.length; i += size) got.push(...d.push(wire.subarray(i, i + size)));
    assert.equal(got.length, 4, `chunk size ${size}`);
    assert.equal(got[0].payload.toString(), 'hello');
    assert.equal(got[1].routeId, 0xffffffff);
    assert.equal(got[1].type, PacketType.CLOSE);
    assert.equal(got[2].payload.length, MAX_PAYLOAD);
    assert.deepEqual(got[2].payload, packets[2].subarray(HEADER_BYTES));
    // A payload split across chunks comes as its pieces (views of the chunks, for a forwarder to send on).
    if (size < MAX_PAYLOAD) {
      assert.ok(got[2].parts && got[2].parts.length > 1, `chunk size ${size}`);
      assert.deepEqual(Buffer.concat(got[2].parts), packets[2].subarray(HEADER_BYTES));
    }
    assert.equal(d.buffered, 0);
  }
  // Whole packets inside one chunk are views of it, not copies.
  const chunk = Buffer.concat(packets);
  const views = new PacketDecoder().push(chunk);
  assert.equal(views[2].payload.buffer, chunk.buffer);
});

test('lying headers and truncated packets are dropped and counted, not buffered', () => {
  const d = new PacketDecoder();
  const bad = Buffer.from([0x99, 0, 0, 0, 1, 0, 1, 0xaa]);
  assert.deepEqual(d.push(bad), []);
  assert.equal(d.stats.malformed, 1);
  const tooLong = Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff]);
  assert.deepEqual(d.push(tooLong), []);
  assert.equal(d.stats.malformed, 2);
  assert.equal(d.buffered, 0);
  // A good packet afterwards still decodes.
  assert.equal(d.push(encodePacket(PacketType.DATA, 1, Buffer.from('x'))).length, 1);
  d.push(encodePacket(PacketType.DATA, 1, Buffer.from('abcdef')).subarray(0, 9));
  d.end();
  assert.equal(d.stats.truncated, 9);
  assert.throws(() => encodePacket(PacketType.DATA, 1, Buffer.alloc(MAX_PAYLOAD + 1)), /exceeds/);
});

test('random bytes never crash the decoder or make it hold more than one packet', () => {
  const d = new PacketDecoder();
  for (let i = 0; i < 2000; i++) {
    d.push(randomBytes(1 + (i % 300)));
    assert.ok(d.buffered <= HEADER_BYTES + MAX_PAYLOAD);
  }
});

test('routing table reserves unique ids, installs rules, counts unknown ids and expires idle rules', () => {
  const t = new RoutingTable({ idleMs: 1000, reserveMs: 100 });
  const ids = t.reserve(3, 'r1', 0);
  assert.equal(new Set(ids).size, 3);
  assert.ok(!ids.includes(0));
  t.install({ id: ids[0], kind: 'intermediary', routeKey: 'r1', nextPk: 'bb', nextRouteId: 9 }, 0);
  t.install({ id: ids[1], kind: 'consume', routeKey: 'r1' }, 0);
  assert.throws(() => t.install({ id: 123456, kind: 'consume', routeKey: 'x' }), /not reserved/);
  assert.throws(() => t.install({ id: ids[2], kind: 'intermediary', routeKey: 'x' }), /needs nextPk/);
  assert.equal(t.lookup(ids[0])?.nextRouteId, 9);
  assert.equal(t.lookup(ids[2]), undefined, 'a reserved id routes nothing');
  assert.equal(t.lookup(55), undefined);
  assert.equal(t.unknownRoute, 2);
  // The unused reservation expires first; a keepalive keeps the consume rule alive.
  assert.deepEqual(t.expire(500).map((r) => r.id), [ids[2]]);
  t.touch(t.get(ids[1])!, 900);
  assert.deepEqual(t.expire(1500).map((r) => r.id), [ids[0]]);
  assert.equal(t.get(ids[1])?.kind, 'consume');
  assert.deepEqual(t.expire(2000).map((r) => r.id), [ids[1]]);
  assert.equal(t.size, 0);
});
