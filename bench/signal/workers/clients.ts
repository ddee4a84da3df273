// Bench worker: COUNT signal clients in one process (ids FIRST..FIRST+COUNT-1) plus a plain TCP echo server
// for the baseline. Prints {"ready":true,"echoPort":P} once every client is registered; runs until killed.
// Usage: clients.js HOST:PORT FIRST COUNT
import { createServer } from 'node:net';
import { SignalClient } from '../../../src/signal/client.js';

const [address, firstText, countText] = process.argv.slice(2);
const first = Number(firstText);
const count = Number(countText);

const echo = createServer((s) => {
  s.setNoDelay(true);
  s.on('data', (d) => s.write(d));
});
echo.listen(0, '127.0.0.1', () => {
  let left = count;
  for (let i = 0; i < count; i++) {
    const c = new SignalClient({ address, id: first + i, keepAlive: true, onShutdown: () => {} });
    c.once('registered', () => {
      if (--left === 0) {
        process.stdout.write(JSON.stringify({ ready: true, echoPort: (echo.address() as { port: number }).port }) + '\n');
      }
    });
    c.start();
  }
});
