// A hand-driven VPN client for tests: opens a secure channel with its key file, sends HELLO, prints the answer
// ("assign {...}" or "error {...}"), then with --bad sends packets the server must drop: a truncated one,
// one with a broken header checksum, and one with a forged source. With --hello BODY it sends BODY as the
// HELLO frame's body instead of a well-formed one. With --bad-offload it asks for offloads and sends
// OFFLOAD_PACKET frames the server must drop (GSO on UDP, a zero segment size, segments over the MTU, an
// unknown flag), then one well-formed GSO frame; with --offload-unasked it sends one without having asked.
// Stays connected until killed.
import { readKeyFile, parsePublicKey } from '../../../src/net/keys.js';
import { dialSecure } from '../../../src/net/tcp.js';
import { FrameType, createFrameReader, encodeFrame, encodeJson } from '../../../src/apps/vpn/protocol.js';
import { checksum, ipToInt } from '../../../src/apps/vpn/ipv4.js';

const [target, serverPk, keyFile, mode, helloBody] = process.argv.slice(2);
const [host, port] = target.split(':');

/** Writes an IPv4 header (20 bytes, TTL 64, valid checksum) for `protocol` at the start of `p`. */
function ipv4Header(p: Buffer, protocol: number, src: string, dst: string): void {
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = protocol;
  p.writeUInt32BE(ipToInt(src), 12);
  p.writeUInt32BE(ipToInt(dst), 16);
  p.writeUInt16BE(checksum(p, 0, 20), 10);
}

function udpPacket(src: string, dst: string): Buffer {
  const p = Buffer.alloc(28);
  ipv4Header(p, 17, src, dst);
  p.writeUInt16BE(9, 20);
  p.writeUInt16BE(9, 22);
  p.writeUInt16BE(8, 24);
  return p;
}

const sock = await dialSecure(host, Number(port), parsePublicKey(serverPk), { localKey: readKeyFile(keyFile) });
const reader = createFrameReader();
/** A TCP segment of `payload` bytes from src to dst (valid IP header checksum; the TCP checksum left partial). */
function tcpPacket(src: string, dst: string, payload: number): Buffer {
  const p = Buffer.alloc(40 + payload, 0x61);
  p.fill(0, 0, 40);
  ipv4Header(p, 6, src, dst);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(9, 22);
  p[32] = 5 << 4;
  p[33] = 0x18;
  return p;
}

/** An OFFLOAD_PACKET frame: flags, gso type, gso size, packet. */
function offloadFrame(flags: number, gsoType: number, gsoSize: number, packet: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = flags;
  head[1] = gsoType;
  head.writeUInt16BE(gsoSize, 2);
  return encodeFrame(0x12 as FrameType, Buffer.concat([head, packet]));
}

const offloadHello = mode === '--bad-offload';
sock.write(
  mode === '--hello' ? encodeFrame(FrameType.Hello, Buffer.from(helloBody)) : encodeJson(FrameType.Hello, { v: 1, mtu: 1400, offload: offloadHello }),
);
sock.on('data', (chunk: Buffer) => {
  for (const f of reader.push(chunk)) {
    if (f.type === FrameType.Assign) {
      const a = JSON.parse(f.body.toString()) as { address: string };
      console.log(`assign ${f.body.toString()}`);
      if (mode === '--bad') {
        const good = udpPacket(a.address, '192.168.77.2');
        const badSum = Buffer.from(good);
        badSum[10] ^= 0xff;
        sock.write(encodeFrame(FrameType.Packet, good.subarray(0, 12)));
        sock.write(encodeFrame(FrameType.Packet, badSum));
        sock.write(encodeFrame(FrameType.Packet, udpPacket('10.99.0.200', '192.168.77.2')));
        console.log('sent bad packets');
      }
      const tcp = tcpPacket(a.address, '192.168.77.2', 3000);
      if (mode === '--bad-offload') {
        sock.write(offloadFrame(1, 1, 1000, udpPacket(a.address, '192.168.77.2'))); // GSO TCPv4 on a UDP packet
        sock.write(offloadFrame(1, 1, 0, tcp)); // GSO with no segment size
        sock.write(offloadFrame(1, 1, 1380, tcp)); // 40 + 1380 > the 1400 MTU
        sock.write(offloadFrame(3, 1, 1000, tcp)); // an unknown flag
        sock.write(offloadFrame(1, 4, 1000, tcp)); // GSO type UDP
        sock.write(offloadFrame(1, 1, 1000, tcp)); // well-formed: 3 segments of 1000 bytes
        console.log('sent bad offload frames');
      } else if (mode === '--offload-unasked') {
        // (printed once the channel has handed it to the socket, so a kill right after cannot lose it)
        sock.write(offloadFrame(1, 1, 1000, tcp), () => console.log('sent an unasked offload frame'));
      }
    } else if (f.type === FrameType.Error) {
      console.log(`error ${f.body.toString()}`);
    }
  }
});
sock.on('close', () => {
  console.log('closed');
  process.exit(0);
});
sock.on('error', (err) => {
  console.log(`socket error ${err.message}`);
  process.exit(1);
});
