// A messenger speaking as one from before window sizing (1 MiB per stream, no baseWindow / connWindow in its HELLO
// reply), in its own process: the "before" of the relayed benches, where clients keep the fixed 1 MiB window.
// Prints "messenger listening on PK@HOST:PORT" like `skywire messenger`.
import { generateKeyPair } from '../../src/net/keys.js';
import { MessengerServer } from '../../src/messenger/server.js';
import { formatMessengerAddress } from '../../src/messenger/address.js';

const MiB = 1024 * 1024;
const key = generateKeyPair();
const server = new MessengerServer({ key, host: '127.0.0.1', port: 0, limits: { maxWindow: MiB, baseWindow: MiB } });
const addr = await server.listen();
console.log(`messenger listening on ${formatMessengerAddress({ pk: key.publicKey, ...addr })}`);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void server.close().then(() => process.exit(0)));
