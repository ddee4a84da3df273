// AppApiServer in-process: the real server on a loopback port and the real SDK, in front of a host (the node's
// side) that is a stand-in with in-memory streams. What an app sees of dial, incoming streams and errors, fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { AppApiServer, type AppApiHost } from '../../src/node/app-api.js';
import { joinStreams } from '../../src/node/stream-join.js';
import { AppClient, AppApiError, apiRequest } from '../../src/node/sdk/index.js';
import { duplexPair, pkA, pkB } from './memory-link.js';
import { roundTrip } from './harness.js';

/** A host whose dials are answered by `onDial` with the node's end of an in-memory stream. */
function host(onDial: (far: Duplex, req: { fromPort: number; pk: string; port: number; hops: unknown[] }) => void): AppApiHost {
  return {
    pkHex: pkA,
    async dial(fromPort, pk, port, o) {
      if (pk === pkB && port === 99) throw new AppApiError('refused', `nothing listens on port 99 at ${pkB.slice(0, 8)}`);
      const [near, far] = duplexPair();
      onDial(far, { fromPort, pk, port, hops: [o.minHops, o.maxHops] });
      return near;
    },
    announce: async () => {},
    query: async () => [],
    status: () => ({ pk: pkA }),
    transportsCmd: async () => ({ transports: [], pending: [] }),
  };
}

async function serve(t: { after(fn: () => Promise<void>): void }, h: AppApiHost) {
  const server = new AppApiServer(h);
  const { host: ip, port } = await server.listen('127.0.0.1', 0);
  t.after(() => server.close());
  const api = `${ip}:${port}`;
  return { server, api, connect: (name: string, p?: number) => AppClient.connect({ api, token: server.token, name, port: p, waitMs: 0 }) };
}

test('a dial reaches the host with the app port, key, port and hops; the stream carries bytes both ways', async (t) => {
  const dials: Array<{ fromPort: number; pk: string; port: number; hops: unknown[] }> = [];
  const { connect } = await serve(t, host((far, req) => {
    dials.push(req);
    far.pipe(far); // the far app echoes
  }));
  const app = await connect('dialer', 4000);
  t.after(() => app.close());
  const sock = await app.dial(pkB, 7, { minHops: 2, maxHops: 3 });
  assert.deepEqual(dials, [{ fromPort: 4000, pk: pkB, port: 7, hops: [2, 3] }]);
  const data = Buffer.alloc(300_000, 'x');
  assert.equal((await roundTrip(sock, data)).length, data.length);
});

test('an incoming stream goes to the app registered on its port, with the remote key and port', async (t) => {
  const { server, connect } = await serve(t, host(() => {}));
  const app = await connect('listener', 7);
  t.after(() => app.close());
  const got = new Promise<{ remote: { pk: string; port: number }; text: string }>((resolve) => {
    app.listen((sock, remote) => {
      let text = '';
      sock.on('data', (d: Buffer) => (text += d.toString()));
      sock.on('end', () => {
        sock.end('pong');
        resolve({ remote, text });
      });
    });
  });
  const [near, far] = duplexPair();
  server.incoming(7, { pk: pkB, port: 4001 }, near);
  far.end('ping');
  assert.deepEqual(await got, { remote: { pk: pkB, port: 4001 }, text: 'ping' });
  let answer = '';
  far.on('data', (d: Buffer) => (answer += d.toString()));
  await once(far, 'end');
  assert.equal(answer, 'pong');

  // Nobody on port 8: the stream fails with `refused` (the far end learns why).
  const [near8] = duplexPair();
  const failed = once(near8, 'error');
  server.incoming(8, { pk: pkB, port: 4001 }, near8);
  const [err] = (await failed) as [AppApiError];
  assert.equal(err.code, 'refused');
});

test("errors reach the app as the host's code and message; a wrong token is refused", async (t) => {
  const { api, connect } = await serve(t, host(() => {}));
  const app = await connect('dialer');
  t.after(() => app.close());
  await assert.rejects(app.dial(pkB, 99), (e: AppApiError) => e instanceof AppApiError && e.code === 'refused' && /nothing listens on port 99/.test(e.message));
  await assert.rejects(apiRequest(api, { op: 'status', token: 'nope' }), (e: AppApiError) => e.code === 'unauthorized');
  const other = await connect('other', 7);
  t.after(() => other.close());
  await assert.rejects(connect('again', 7), (e: AppApiError) => e.code === 'port_taken' && /taken by app "other"/.test(e.message));
});

/** A connected loopback socket pair: [the node's side, the app's side]. */
async function socketPair(t: { after(fn: () => void): void }): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const app = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', allowHalfOpen: true });
  const [node] = await accepted;
  return [node, app];
}

test('a stream that ends cleanly ends the app socket with a FIN, never a reset; an abrupt close resets it', async (t) => {
  for (const abrupt of [false, true]) {
    const [nodeSide, appSide] = await socketPair(t);
    const resets: number[] = [];
    const reset = nodeSide.resetAndDestroy.bind(nodeSide);
    nodeSide.resetAndDestroy = () => {
      resets.push(1);
      return reset();
    };
    const [near, far] = duplexPair();
    joinStreams(nodeSide, near);
    const closed = once(nodeSide, 'close');
    appSide.on('error', () => {});
    appSide.resume();
    if (abrupt) near.destroy();
    else {
      // The app finishes first; the far app answers and finishes: the stream closes as the answer's end leaves.
      far.resume();
      far.once('end', () => far.end('bye'));
      appSide.end('hi');
    }
    await closed;
    assert.deepEqual(resets, abrupt ? [1] : [], abrupt ? 'an abrupt close resets the app socket' : 'a clean end is no reset');
  }
});
