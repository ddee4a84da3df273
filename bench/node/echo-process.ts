// Child process of routes.bench: a plain TCP echo and a secure-channel echo on loopback, the baselines for the
// route round trip and the route setup. Prints {"tcpPort","securePort","pk"} and runs until stdin closes.
import { createServer } from 'node:net';
import { once } from 'node:events';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { listenSecure } from '../../src/net/tcp.js';

const key = generateKeyPair();
const tcp = createServer((s) => {
  s.setNoDelay(true);
  s.on('error', () => {});
  s.pipe(s);
});
tcp.listen(0, '127.0.0.1');
await once(tcp, 'listening');
const secure = await listenSecure({ localKey: key }, (ch) => {
  ch.on('error', () => {});
  ch.pipe(ch);
});
const tcpPort = (tcp.address() as { port: number }).port;
console.log(JSON.stringify({ tcpPort, securePort: secure.address().port, pk: pkToHex(key.publicKey) }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
