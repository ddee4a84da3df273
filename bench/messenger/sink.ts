// Child process of relay-throughput.bench: the receiving end B, in its own process as it would be on its own
// machine. It accepts direct secure channels and relayed streams (port 1) and counts what arrives. On stdin,
// "expect N" starts a run; it prints "done <largest receive window>" once N bytes arrived. Prints "ready <port> <pk> <fixed pk>" at start:
// relayed streams to <pk> get windows sized to the transfer, those to <fixed pk> the fixed 1 MiB window of clients
// before window sizing (a second key: a client is one or the other).
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { listenSecure } from '../../src/net/tcp.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';

const key = generateKeyPair();
let received = 0;
let expected = Infinity;
/** The largest receive window of a relayed stream in this run (0 for direct channels). */
let maxWindow = 0;
function sink(s: Duplex): void {
  s.on('error', () => {});
  const window = () => (s as Duplex & { receiveWindow?: number }).receiveWindow ?? 0;
  s.on('data', (d: Buffer) => {
    received += d.length;
    maxWindow = Math.max(maxWindow, window());
    if (received >= expected) {
      expected = Infinity;
      console.log(`done ${maxWindow}`);
    }
  });
}
const direct = await listenSecure({ localKey: key, port: 0 }, sink);
const messengers = [parseMessengerAddress(process.argv[2])];
const c = new MessengerClient({ localKey: key, messengers });
const fixedKey = generateKeyPair();
const fixed = new MessengerClient({ localKey: fixedKey, messengers, autotune: false });
await Promise.all([c.start(), fixed.start()]);
c.listen(1, sink);
fixed.listen(1, sink);
createInterface({ input: process.stdin }).on('line', (l) => {
  const m = /^expect (\d+)$/.exec(l);
  if (m) {
    received = 0;
    maxWindow = 0;
    expected = Number(m[1]);
  }
});
process.stdin.on('end', () => process.exit(0));
console.log(`ready ${direct.address().port} ${pkToHex(key.publicKey)} ${pkToHex(fixedKey.publicKey)}`);
