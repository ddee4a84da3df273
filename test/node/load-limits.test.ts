// What keeps a node working under a burst of route setups: a bounded setup queue that refuses clearly, and
// transports that do not declare a peer dead because our own event loop was busy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { SetupQueue } from '../../src/node/setup-queue.js';
import { Transport } from '../../src/node/transport.js';
import type { AppApiError } from '../../src/node/sdk/index.js';

test('the setup queue runs at most `concurrency` at once, in order, and refuses clearly when full or waited too long', async () => {
  const q = new SetupQueue(2, 2, 200);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const gates: Array<() => void> = [];
  const job = (i: number) => () =>
    new Promise<number>((resolve) => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      gates.push(() => {
        running--;
        resolve(i);
      });
    });
  const runs = [0, 1, 2, 3].map((i) => q.run(job(i)));
  assert.equal(q.queued, 2);
  await assert.rejects(q.run(job(9)), (e: AppApiError) => e.code === 'busy' && /2 route setups waiting/.test(e.message));
  while (gates.length) {
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.equal(peak, 2);
  // A waiter whose turn does not come within maxWaitMs is refused (its slot never taken).
  const hold = q.run(job(10));
  const hold2 = q.run(job(11));
  await assert.rejects(q.run(job(12)), (e: AppApiError) => e.code === 'busy' && /waited 0.2 s/.test(e.message));
  gates.splice(0).forEach((g) => g());
  assert.deepEqual(await Promise.all([hold, hold2]), [10, 11]);
  assert.equal(q.queued, 0);
});

test('a transport does not declare its peer dead because our own event loop stalled', async (t) => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [srvSock] = await accepted;
  const o = { pingIntervalMs: 50, deadAfterMs: 300 };
  const x = new Transport(client, 'x', 'direct', true, o);
  const y = new Transport(srvSock, 'y', 'direct', false, o);
  t.after(() => {
    x.close();
    y.close();
    server.close();
  });
  while (x.packetsIn < 2) await new Promise((r) => setTimeout(r, 10));
  const before = x.packetsIn;
  // Both ends busy for longer than deadAfterMs (as a burst of handshakes does): the PINGs sent just before sit
  // unread in the socket, and timers run before I/O.
  const end = Date.now() + 600;
  while (Date.now() < end) {
    /* busy */
  }
  // Wait for a few PINGs to arrive after the stall (the transport would have closed at the first late tick).
  while (!x.isClosed && x.packetsIn < before + 5) await new Promise((r) => setTimeout(r, 20));
  assert.equal(x.isClosed, false, 'the transport survived our stall');
  assert.equal(y.isClosed, false);
});
