// A transport that had to go through the messenger relay (the peer had announced no address when it was
// dialed) becomes direct once the peer announces one, and a stream open on it goes on without a loss, a
// reorder or a route repair. Node objects in this process, on loopback sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Node } from '../../src/node/node.js';
import { setLogSink } from '../../src/util/log.js';
import { dialRetry, waitFor } from './harness.js';
import { inProcessMesh } from './inprocess-mesh.js';

const kindTo = (from: Node, to: Node) => (from.status().transports as Array<{ pk: string; kind: string }>).find((x) => x.pk === to.pkHex)?.kind;

test('a relayed transport is upgraded to direct within 5 s of the peer announcing, and a stream on it keeps going', async (t) => {
  // What this process logs at the default level: a link relayed only until its peer announces is normal at
  // start-up (a demo's nodes start in any order), so neither its relaying nor its upgrade is a warning.
  const logged: string[] = [];
  setLogSink((line) => logged.push(line));
  t.after(() => setLogSink((line) => process.stderr.write(line + '\n')));
  const { manager, node, app } = await inProcessMesh(t);

  const b = await node();
  await b.messenger.announce({ addresses: [] }); // as if b had not announced its address yet
  const a = await node([b]);
  await waitFor('a relayed transport from a to b', () => kindTo(a, b) === 'relayed');
  const echo = await app(b, 'echo', 7);
  echo.listen((sock) => {
    sock.on('error', () => {});
    sock.pipe(sock);
  });
  const sock: Socket = await dialRetry(await app(a, 'client'), b.pkHex, 7);

  // Bytes flow both ways through the echo while the transport moves; both sides are hashed.
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let sentBytes = 0;
  let gotBytes = 0;
  sock.on('data', (d: Buffer) => {
    got.update(d);
    gotBytes += d.length;
  });
  const ended = once(sock, 'end');
  let upgraded = false;
  let afterUpgrade = 0;
  const pump = (async () => {
    for (let i = 0; afterUpgrade < 64; i++) {
      const chunk = Buffer.alloc(16 * 1024, i % 251);
      chunk.writeUInt32BE(i, 0);
      sent.update(chunk);
      sentBytes += chunk.length;
      if (upgraded) afterUpgrade++;
      if (!sock.write(chunk)) await once(sock, 'drain');
      if (!upgraded && i % 16 === 0) await new Promise((r) => setImmediate(r));
      if (i > 200_000) throw new Error('the transport was not upgraded');
    }
  })();

  await waitFor('bytes flowing over the relayed transport', () => gotBytes > 256 * 1024);
  await b.announce([]); // b announces its listen address now
  await waitFor('the transport from a to b upgraded to direct', () => kindTo(a, b) === 'direct' && kindTo(b, a) === 'direct', 5000);
  upgraded = true;
  await pump;
  sock.end();
  await ended;
  assert.equal(gotBytes, sentBytes, 'every byte came back');
  assert.equal(got.digest('hex'), sent.digest('hex'), 'in order, intact');
  const streams = a.status().streams as Array<{ repairs?: number }>;
  assert.ok(streams.every((s) => !s.repairs), 'the stream moved with its transport, no route repair');
  assert.equal(manager.routesBroken, 0);
  assert.deepEqual(logged.filter((l) => /relayed/.test(l)), [], 'no default-level line for a link relayed only until its peer announced');
});
