// The VPN's packet checks, ICMP reply, framing and address pool, on plain buffers (no root needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFragNeeded, checkIpv4, checksum, intToIp, ipToInt, parseCidr, srcOf, dstOf } from '../../../src/apps/vpn/ipv4.js';
import { FrameType, createFrameReader, encodeJson, encodePackets, parseAssign, parseErrorBody, parseHello } from '../../../src/apps/vpn/protocol.js';
import { AddressPool, PoolExhaustedError } from '../../../src/apps/vpn/pool.js';

function ipv4(src: string, dst: string, payload = 8, df = true): Buffer {
  const p = Buffer.alloc(20 + payload);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  if (df) p.writeUInt16BE(0x4000, 6);
  p[8] = 64;
  p[9] = 17;
  p.writeUInt32BE(ipToInt(src), 12);
  p.writeUInt32BE(ipToInt(dst), 16);
  p.writeUInt16BE(checksum(p, 0, 20), 10);
  return p;
}

// An IPv4 header captured off a real network, with its checksum 0xb861 as the sender computed it (the
// example used by Wikipedia's "Internet checksum" / RFC 1071 walkthroughs): an expected value the code under
// test did not produce.
const CAPTURED = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');

test('the IPv4 header checksum matches a captured header (0xb861) and verifies to zero', () => {
  assert.equal(checksum(CAPTURED, 0, 20), 0xb861);
  const withSum = Buffer.from(CAPTURED);
  withSum.writeUInt16BE(0xb861, 10);
  assert.equal(checksum(withSum, 0, 20), 0, 'a header with its checksum sums to zero');
  const packet = Buffer.concat([withSum, Buffer.alloc(0x73 - 20)]); // total length 0x73, as the header says
  assert.equal(checkIpv4(packet), undefined);
  packet.writeUInt16BE(0xb862, 10);
  assert.equal(checkIpv4(packet), 'bad_checksum');
});

test('HELLO, ASSIGN and ERROR bodies are checked for shape, with the field named', () => {
  const j = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  assert.deepEqual(parseHello(j({ v: 1, mtu: 1400, extra: 'ignored' })), { v: 1, mtu: 1400, offload: false });
  assert.deepEqual(parseHello(j({ v: 1, mtu: 1400, offload: true })), { v: 1, mtu: 1400, offload: true });
  assert.throws(() => parseHello(j({ v: 1, mtu: 1400, offload: 'yes' })), /malformed HELLO frame: "offload" must be true or false/);
  for (const bad of ['null', '[]', '[1,1400]', '7', '"x"', 'nope']) assert.throws(() => parseHello(j(bad)), /^Error: malformed HELLO frame: not (an object|JSON)$/);
  assert.throws(() => parseHello(j({ v: '1', mtu: 1400 })), /"v" must be a whole number/);
  assert.throws(() => parseHello(j({ v: 1, mtu: 100 })), /"mtu" must be a whole number from 576 to 65535/);
  assert.throws(() => parseHello(j({ v: 1, mtu: [1400] })), /"mtu"/);

  const assign = { address: '10.99.0.2', prefixLen: 24, gateway: '10.99.0.1', mtu: 1400 };
  assert.deepEqual(parseAssign(j(assign)), { ...assign, offload: false }, 'a server from before offloads');
  assert.deepEqual(parseAssign(j({ ...assign, offload: true })), { ...assign, offload: true });
  assert.throws(() => parseAssign(j({ ...assign, offload: 1 })), /"offload" must be true or false/);
  assert.throws(() => parseAssign(j('null')), /malformed ASSIGN frame: not an object/);
  assert.throws(() => parseAssign(j({ ...assign, address: '10.99.0.2/24' })), /"address" must be an IPv4 address/);
  assert.throws(() => parseAssign(j({ ...assign, address: '10.99.0.256' })), /"address"/);
  assert.throws(() => parseAssign(j({ ...assign, gateway: ['10.99.0.1'] })), /"gateway" must be an IPv4 address/);
  assert.throws(() => parseAssign(j({ ...assign, prefixLen: 0 })), /"prefixLen" must be a whole number from 1 to 30/);
  assert.throws(() => parseAssign(j({ ...assign, mtu: '1400' })), /"mtu"/);

  assert.deepEqual(parseErrorBody(j({ code: 'not_allowed', message: 'no\nway\u001b[0m' })), { code: 'not_allowed', message: 'no way [0m' });
  assert.equal(parseErrorBody(j({ code: 'x', message: 'm'.repeat(5000) })).message.length, 300);
  assert.throws(() => parseErrorBody(j('[]')), /malformed ERROR frame: not an object/);
  assert.throws(() => parseErrorBody(j({ code: 5, message: 'x' })), /"code" must be a short word/);
  assert.throws(() => parseErrorBody(j({ code: 'x', message: { a: 1 } })), /"message" must be a string/);
});

test('well-formed IPv4 packets pass; truncated, non-IPv4 and corrupted ones are named', () => {
  const good = ipv4('10.99.0.2', '192.168.77.2');
  assert.equal(checkIpv4(good), undefined);
  assert.equal(checkIpv4(good.subarray(0, 19)), 'truncated');
  assert.equal(checkIpv4(good.subarray(0, 25)), 'bad_total_length', 'a packet cut short of its total length');
  const v6 = Buffer.from(good);
  v6[0] = 0x60;
  assert.equal(checkIpv4(v6), 'not_ipv4');
  const ihl = Buffer.from(good);
  ihl[0] = 0x4f; // 60-byte header in a 28-byte packet
  assert.equal(checkIpv4(ihl), 'bad_header_length');
  const sum = Buffer.from(good);
  sum[8] = 1; // TTL changed without fixing the checksum
  assert.equal(checkIpv4(sum), 'bad_checksum');
});

test('ICMP "fragmentation needed" carries type 3 code 4, the MTU, the original header, and valid checksums', () => {
  const big = ipv4('192.168.77.2', '10.99.0.2', 1380);
  const icmp = buildFragNeeded(big, ipToInt('10.99.0.2'), 1300);
  assert.equal(checkIpv4(icmp), undefined);
  assert.equal(icmp[9], 1, 'protocol ICMP');
  assert.equal(intToIp(srcOf(icmp)), '10.99.0.2');
  assert.equal(intToIp(dstOf(icmp)), '192.168.77.2', 'goes back to the sender');
  assert.equal(icmp[20], 3);
  assert.equal(icmp[21], 4);
  assert.equal(icmp.readUInt16BE(26), 1300);
  assert.deepEqual(icmp.subarray(28), big.subarray(0, 28), 'quotes the IP header and 8 bytes');
  assert.equal(checksum(icmp, 20, icmp.length), 0, 'ICMP checksum');
});

test('subnets parse strictly, with a hint when host bits are set', () => {
  assert.deepEqual(parseCidr('10.99.0.0/24'), { network: ipToInt('10.99.0.0'), prefixLen: 24 });
  assert.throws(() => parseCidr('10.99.0.1/24'), /has host bits set; did you mean 10\.99\.0\.0\/24\?/);
  assert.throws(() => parseCidr('10.99.0.0'), /needs a \/PREFIX/);
  assert.throws(() => parseCidr('10.99.0.300/24'), /is not a CIDR such as 10\.0\.0\.0\/8$/);
  assert.throws(() => parseCidr('10.0.0.0/33'), /prefix must be 0-32/);
});

test('frames split across reads at any byte are reassembled; batches decode packet by packet', () => {
  const pkts = [ipv4('10.99.0.2', '1.1.1.1', 1), ipv4('10.99.0.2', '1.1.1.1', 1372)];
  const wire = Buffer.concat([encodeJson(FrameType.Hello, { v: 1, mtu: 1400 }), encodePackets(pkts)]);
  for (let cut = 1; cut < wire.length; cut += 97) {
    const r = createFrameReader();
    const frames = [...r.push(wire.subarray(0, cut)), ...r.push(wire.subarray(cut))];
    assert.deepEqual(frames.map((f) => f.type), [FrameType.Hello, FrameType.Packet, FrameType.Packet]);
    assert.deepEqual(JSON.parse(frames[0].body.toString()), { v: 1, mtu: 1400 });
    assert.deepEqual(frames[1].body, pkts[0]);
    assert.deepEqual(frames[2].body, pkts[1]);
  }
});

test('the pool gives the server the first address, clients the rest, and a returning key its old address', () => {
  const pool = new AddressPool(parseCidr('10.99.0.0/29'));
  assert.equal(pool.gatewayIp, '10.99.0.1');
  assert.equal(pool.capacity, 5);
  const a = pool.take('a');
  const b = pool.take('b');
  assert.equal(intToIp(a), '10.99.0.2');
  assert.equal(intToIp(b), '10.99.0.3');
  pool.release(a);
  pool.take('c'); // takes .2, a's old address, since it is free
  assert.equal(intToIp(pool.take('b2')), '10.99.0.4');
  pool.release(b);
  assert.equal(intToIp(pool.take('b')), '10.99.0.3', 'b gets its old address back');
  pool.take('x');
  pool.take('y');
  assert.throws(() => pool.take('z'), (e: unknown) => e instanceof PoolExhaustedError && /all 5 client addresses are in use/.test(e.message));
  assert.throws(() => new AddressPool(parseCidr('10.99.0.0/31')), /too small/);
});
