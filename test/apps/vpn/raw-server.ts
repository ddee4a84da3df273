// A hand-driven vpn-server for tests: a secure listener with its key file that answers the Nth HELLO with the
// Nth of the given answers, each "assign:BODY" or "error:BODY" (BODY sent as is, well-formed or not). Prints
// "listening" when ready and "hello N" for each HELLO. Stays up until killed.
import { readKeyFile } from '../../../src/net/keys.js';
import { listenSecure } from '../../../src/net/tcp.js';
import { FrameType, createFrameReader, encodeFrame } from '../../../src/apps/vpn/protocol.js';

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
      ch.end(encodeFrame(kind === 'assign' ? FrameType.Assign : FrameType.Error, Buffer.from(body)));
    }
  });
});
console.log('listening');
