// A hand-driven vpn-server for tests: a secure listener with its key file that answers the Nth HELLO with the
// Nth of the given answers, each "assign:BODY" or "error:BODY" (BODY sent as is, well-formed or not). Prints
// "listening" when ready and "hello N" for each HELLO. "assign-offload:BODY" sends BODY as the ASSIGN, keeps the
// stream open and sends OFFLOAD_PACKET frames the client must drop (an unknown flag, GSO on a UDP packet, a
// segment size over the MTU), printing "sent bad offload frames". Stays up until killed.
import { readKeyFile } from '../../../src/net/keys.js';
import { listenSecure } from '../../../src/net/tcp.js';
import { FrameType, createFrameReader, encodeFrame } from '../../../src/apps/vpn/protocol.js';
import { checksum, ipToInt } from '../../../src/apps/vpn/ipv4.js';

/** An IPv4 packet to the client's address with a valid header checksum: `proto`, `payload` bytes after the header. */
function packetTo(dst: string, proto: number, payload: number): Buffer {
  const p = Buffer.alloc(20 + payload);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = proto;
  p.writeUInt32BE(ipToInt('192.168.77.2'), 12);
  p.writeUInt32BE(ipToInt(dst), 16);
  p.writeUInt16BE(checksum(p, 0, 20), 10);
  if (proto === 6) p[32] = 5 << 4;
  return p;
}

const offloadFrame = (flags: number, gsoType: number, gsoSize: number, packet: Buffer) => {
  const head = Buffer.from([flags, gsoType, gsoSize >> 8, gsoSize & 0xff]);
  return encodeFrame(FrameType.OffloadPacket, Buffer.concat([head, packet]));
};

const [host, port, keyFile, ...answers] = process.argv.slice(2);
let n = 0;
await listenSecure({ localKey: readKeyFile(keyFile), host, port: Number(port) }, (ch) => {
  const reader = createFrameReader();
  ch.on('error', () => {});
  ch.on('data', (chunk: Buffer) => {
    for (const f of reader.push(chunk)) {
      if (f.type !== FrameType.Hello) continue;
      const answer = answers[Math.min(n, answers.length - 1)];
      console.log(`hello ${++n}`);
      const [kind, body] = [answer.slice(0, answer.indexOf(':')), answer.slice(answer.indexOf(':') + 1)];
      if (kind === 'assign-offload') {
        const address = (JSON.parse(body) as { address: string }).address;
        ch.write(encodeFrame(FrameType.Assign, Buffer.from(body)));
        ch.write(offloadFrame(3, 1, 1000, packetTo(address, 6, 3000))); // unknown flag
        ch.write(offloadFrame(1, 1, 1000, packetTo(address, 17, 3000))); // TCP GSO on a UDP packet
        ch.write(offloadFrame(1, 1, 1380, packetTo(address, 6, 3000)), () => console.log('sent bad offload frames')); // over the MTU
        continue;
      }
      ch.end(encodeFrame(kind === 'assign' ? FrameType.Assign : FrameType.Error, Buffer.from(body)));
    }
  });
});
console.log('listening');
