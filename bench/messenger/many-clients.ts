// Child process of registry-memory.bench: registers `count` fresh keys with a messenger (or as many as fit
// before the `deadline`, unix ms), each as its own connection announcing one service, `parallel` handshakes
// at a time. Prints "n <registered>" every 100, "done <registered>" at the end, and stays connected until
// stdin closes.
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
    const c = new MessengerClient({ localKey: generateKeyPair(), messengers: [addr], keepaliveMs: 20_000 });
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
