// Child process of registry-memory.bench and redis-registry.bench: registers `count` fresh keys with a messenger
// (or as many as fit before the `deadline`, unix ms), each as its own connection announcing one service,
// `parallel` handshakes at a time. Prints "n <registered>" every 100, "done <registered>" at the end, and stays
// connected until stdin closes.
// Each client dials from its own loopback address (127.<10+tag>.x.y: all of 127.0.0.0/8 is loopback on Linux),
// as real clients come from many machines: the messenger bounds pending handshakes per source address
// (src/net/handshake-admission.ts), and one source would also run out of ports to one messenger at ~28,000.
import { generateKeyPair } from '../../src/net/keys.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';

const [addrText, countText, parallelText, tag, deadlineText] = process.argv.slice(2);
const deadline = Number(deadlineText ?? Infinity);
const addr = parseMessengerAddress(addrText);
const count = Number(countText);
const parallel = Number(parallelText ?? 32);
const clients: MessengerClient[] = [];
let next = 0;

async function worker(): Promise<void> {
  while (next < count && Date.now() < deadline) {
    const i = next++;
    const localAddress = `127.${10 + Number(tag)}.${((i + 1) >> 8) & 255}.${(i + 1) & 255}`;
    const c = new MessengerClient({ localKey: generateKeyPair(), messengers: [addr], keepaliveMs: 20_000, localAddress });
    await c.start();
    await c.announce({ addresses: [`10.${tag}.${i >> 8}.${i & 255}:7000`], services: [{ name: 'bench', port: 1, attrs: { n: String(i) } }] });
    clients.push(c);
    if (clients.length % 100 === 0) console.log(`n ${clients.length}`);
  }
}

await Promise.all(Array.from({ length: parallel }, worker));
console.log(`done ${clients.length}`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
