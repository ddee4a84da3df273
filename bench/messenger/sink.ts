// Child process of relay-throughput.bench: the receiving end B, in its own process as it would be on its own
// machine. It accepts direct secure channels and relayed streams (port 1) and counts what arrives. On stdin,
// "expect N" starts a run; it prints "done" once N bytes arrived. Prints "ready <port> <pk>" at start.
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { listenSecure } from '../../src/net/tcp.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';

const key = generateKeyPair();
let received = 0;
let expected = Infinity;
function sink(s: Duplex): void {
  s.on('error', () => {});
  s.on('data', (d: Buffer) => {
    received += d.length;
    if (received >= expected) {
      expected = Infinity;
      console.log('done');
    }
  });
}
const direct = await listenSecure({ localKey: key, port: 0 }, sink);
const window = process.env.BENCH_WINDOW ? Number(process.env.BENCH_WINDOW) : undefined;
const c = new MessengerClient({ localKey: key, messengers: [parseMessengerAddress(process.argv[2])], window });
await c.start();
c.listen(1, sink);
createInterface({ input: process.stdin }).on('line', (l) => {
  const m = /^expect (\d+)$/.exec(l);
  if (m) {
    received = 0;
    expected = Number(m[1]);
  }
});
process.stdin.on('end', () => process.exit(0));
console.log(`ready ${direct.address().port} ${pkToHex(key.publicKey)}`);
