// A hand-driven VPN peer over a MESH route (through its node's app API, as any app): for each case it dials the
// vpn-server's node, sends that case's bytes and prints what came back, one line per case: "<case> error {...}",
// "<case> assign {...}" or "<case> closed". Cases: an unknown frame type before HELLO, a HELLO whose body is
// `null`, a well-formed HELLO.
// Usage: mesh-raw-client.js API_FILE SERVER_PK HOPS
import { AppClient } from '../../../src/node/sdk/index.js';
import { FrameType, PROTOCOL_VERSION, VPN_PORT, createFrameReader, encodeFrame, encodeJson } from '../../../src/apps/vpn/protocol.js';

const [apiFile, serverPk, hops] = process.argv.slice(2);
const app = await AppClient.connect({ apiFile, name: 'mesh-raw-client' });

const cases: Array<[string, Buffer]> = [
  ['unknown-frame', encodeFrame(0x77 as FrameType, Buffer.from('?'))],
  ['null-hello', encodeFrame(FrameType.Hello, Buffer.from('null'))],
  ['hello', encodeJson(FrameType.Hello, { v: PROTOCOL_VERSION, mtu: 1400 })],
];

for (const [name, bytes] of cases) {
  const sock = await app.dial(serverPk, VPN_PORT, { minHops: Number(hops), maxHops: Number(hops) });
  const reader = createFrameReader();
  const answer = await new Promise<string>((resolve) => {
    sock.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.type === FrameType.Error) resolve(`error ${f.body.toString()}`);
        else if (f.type === FrameType.Assign) resolve(`assign ${f.body.toString()}`);
      }
    });
    sock.on('error', () => resolve('closed'));
    sock.on('close', () => resolve('closed'));
    sock.write(bytes);
  });
  console.log(`${name} ${answer}`);
  sock.destroy();
}
await app.close();
