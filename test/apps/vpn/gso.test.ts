// Software segmentation (gso.ts) for a peer without offloads: every segment a valid IPv4/TCP packet, checked with
// a checksum written here (not gso.ts's), the payload whole and in order, sequence numbers and flags as a NIC sets
// them; OFFLOAD_PACKET bodies and offload fields are checked before use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GSO_TCPV4, checkOffload, completeChecksum, segment } from '../../../src/apps/vpn/gso.js';
import { parseOffloadBody } from '../../../src/apps/vpn/protocol.js';
import { checkIpv4, ipToInt } from '../../../src/apps/vpn/ipv4.js';

/** RFC 1071, 32-bit accumulation: the ones' complement sum of `bufs` as 16-bit words, folded. */
function onesSum(...bufs: Buffer[]): number {
  const all = Buffer.concat(bufs);
  let s = 0;
  for (let i = 0; i + 1 < all.length; i += 2) s += all.readUInt16BE(i);
  if (all.length % 2) s += all[all.length - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function tcpValid(p: Buffer): boolean {
  const ihl = (p[0] & 15) * 4;
  const seg = p.subarray(ihl);
  const pseudo = Buffer.alloc(12);
  p.copy(pseudo, 0, 12, 20);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(seg.length, 10);
  const even = seg.length % 2 ? Buffer.concat([seg, Buffer.alloc(1)]) : seg;
  return onesSum(pseudo, even) === 0xffff;
}

/** A GSO TCP packet as the kernel hands it: IP header valid, TCP checksum = the pseudo-header sum (not inverted). */
function gsoPacket(payload: Buffer): Buffer {
  const p = Buffer.alloc(40 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(0x1234, 4);
  p[6] = 0x40; // DF
  p[8] = 64;
  p[9] = 6;
  p.writeUInt32BE(ipToInt('10.99.0.2'), 12);
  p.writeUInt32BE(ipToInt('192.168.77.2'), 16);
  const ipSum = onesSum(p.subarray(0, 20));
  p.writeUInt16BE(~ipSum & 0xffff, 10);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(5201, 22);
  p.writeUInt32BE(0xfffff000, 24); // wraps past 2^32 in the segments
  p[32] = 5 << 4;
  p[33] = 0x80 | 0x18 | 0x01; // CWR, PSH, ACK, FIN
  p.writeUInt16BE(65535, 34);
  payload.copy(p, 40);
  const pseudo = Buffer.alloc(12);
  p.copy(pseudo, 0, 12, 20);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(p.length - 20, 10);
  p.writeUInt16BE(onesSum(pseudo), 36);
  return p;
}

test('a GSO packet cut into MSS-sized segments: valid checksums, whole payload, sequence numbers and flags as a NIC sets them', () => {
  const payload = Buffer.from(Array.from({ length: 5001 }, (_, i) => (i * 7) & 0xff));
  const pkt = gsoPacket(payload);
  const offload = { needsCsum: true, gsoType: GSO_TCPV4, gsoSize: 1360 };
  assert.equal(checkOffload(pkt, offload, 1400), undefined);
  const segs = segment(pkt, offload, 1).map((s) => s.packet);
  assert.equal(segs.length, 4);
  assert.deepEqual(Buffer.concat(segs.map((s) => s.subarray(40))), payload, 'payload whole and in order');
  segs.forEach((s, i) => {
    assert.equal(checkIpv4(s), undefined, `segment ${i}: a whole IPv4 packet with a valid header checksum`);
    assert.ok(s.length <= 1400);
    assert.ok(tcpValid(s), `segment ${i}: TCP checksum valid`);
    assert.equal(s.readUInt32BE(24), (0xfffff000 + i * 1360) >>> 0, 'sequence number');
    assert.equal(s.readUInt16BE(4), 0x1234 + i, 'IP id');
    const flags = s[33];
    assert.equal(Boolean(flags & 0x80), i === 0, 'CWR on the first only');
    assert.equal(Boolean(flags & 0x09), i === segs.length - 1, 'FIN and PSH on the last only');
  });
  // Pieces of two segments stay GSO, with the pseudo-header sum for their own length: completing it gives a valid packet.
  const pieces = segment(pkt, offload, 2);
  assert.equal(pieces.length, 2);
  assert.equal(pieces[0].offload, offload);
  const first = Buffer.from(pieces[0].packet);
  completeChecksum(first);
  assert.ok(tcpValid(first));
});

test('offload fields that do not fit their packet are named; OFFLOAD_PACKET bodies need the known flag', () => {
  const pkt = gsoPacket(Buffer.alloc(3000, 1));
  const ok = { needsCsum: true, gsoType: GSO_TCPV4, gsoSize: 1000 };
  assert.equal(checkOffload(pkt, ok, 1400), undefined);
  assert.equal(checkOffload(pkt, { ...ok, gsoSize: 0 }, 1400), 'bad_offload');
  assert.equal(checkOffload(pkt, { ...ok, gsoSize: 1361 }, 1400), 'too_big');
  assert.equal(checkOffload(pkt, { ...ok, gsoType: 4 }, 1400), 'bad_offload', 'GSO UDP is not offered');
  assert.equal(checkOffload(pkt, { ...ok, needsCsum: false }, 1400), 'bad_offload', 'GSO needs the checksum flag');
  const udp = Buffer.from(pkt);
  udp[9] = 17;
  assert.equal(checkOffload(udp, ok, 1400), 'bad_offload', 'TCP GSO on a UDP packet');
  const frag = Buffer.from(pkt);
  frag[6] = 0x20; // more fragments
  assert.equal(checkOffload(frag, { ...ok, gsoType: 0, gsoSize: 0 }, 1400), 'bad_offload', 'a fragment has no whole TCP header');
  const body = Buffer.concat([Buffer.from([1, GSO_TCPV4, 0x03, 0xe8]), pkt]);
  assert.deepEqual(parseOffloadBody(body)?.offload, ok);
  assert.equal(parseOffloadBody(Buffer.concat([Buffer.from([3, 1, 0, 1]), pkt])), null, 'unknown flag');
  assert.equal(parseOffloadBody(Buffer.from([1, 1, 0, 1, 0x45])), null, 'too short for an IPv4 header');
});
