// A hand-driven VPN client for tests: opens a secure channel with its key file, sends HELLO, prints the answer
// ("assign {...}" or "error {...}"), then with --bad sends packets the server must drop: a truncated one,
// one with a broken header checksum, and one with a forged source. With --hello BODY it sends BODY as the
// HELLO frame's body instead of a well-formed one. Stays connected until killed.
import { readKeyFile, parsePublicKey } from '../../../src/net/keys.js';
import { dialSecure } from '../../../src/net/tcp.js';
import { FrameType, createFrameReader, encodeFrame, encodeJson } from '../../../src/apps/vpn/protocol.js';
import { checksum, ipToInt } from '../../../src/apps/vpn/ipv4.js';

const [target, serverPk, keyFile, mode, helloBody] = process.argv.slice(2);
const [host, port] = target.split(':');

function udpPacket(src: string, dst: string): Buffer {
  const p = Buffer.alloc(28);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  p.writeUInt32BE(ipToInt(src), 12);
  p.writeUInt32BE(ipToInt(dst), 16);
  p.writeUInt16BE(checksum(p, 0, 20), 10);
  p.writeUInt16BE(9, 20);
  p.writeUInt16BE(9, 22);
  p.writeUInt16BE(8, 24);
  return p;
}

const sock = await dialSecure(host, Number(port), parsePublicKey(serverPk), { localKey: readKeyFile(keyFile) });
const reader = createFrameReader();
sock.write(mode === '--hello' ? encodeFrame(FrameType.Hello, Buffer.from(helloBody)) : encodeJson(FrameType.Hello, { v: 1, mtu: 1400 }));
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
