// An app inside the node's process (src/node/in-process-app.ts, what `skywire node --vpn-server` runs the VPN
// on): real in-process nodes, real routes. It holds its port as a separate app would, and a local app holding the
// node's API token can do no more against it than against a separate app: not take its port, not accept or
// see its streams, not act with its registration. Streams both ways are the routes' channels (Duplex), with
// the dialer's authenticated key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { echoOf, waitFor } from './harness.js';
import { inProcessMesh } from './inprocess-mesh.js';
import { InProcessApp } from '../../src/node/in-process-app.js';
import { type AppClient, apiRequest } from '../../src/node/sdk/index.js';
import { formatHostPort } from '../../src/util/hostport.js';
import type { Node } from '../../src/node/node.js';

/** Dials until the manager knows the path (a new transport takes a moment to reach it). */
async function dialWhenRoutable(app: Pick<AppClient, 'dial'> | InProcessApp, pk: string, port: number): Promise<Duplex> {
  let stream: Duplex | undefined;
  let last: Error | undefined;
  await waitFor(`a route to ${pk.slice(0, 8)}:${port} (${last?.message ?? ''})`, async () => {
    try {
      stream = await app.dial(pk, port);
      return true;
    } catch (err) {
      last = err as Error;
      if ((err as { code?: string }).code !== 'no_route' && (err as { code?: string }).code !== 'offline') throw err;
      return false;
    }
  });
  return stream!;
}

function echoServer(s: Duplex): void {
  s.on('error', () => {});
  s.pipe(s);
}

async function rawApi(n: Node, req: Record<string, unknown>): Promise<{ code?: string; ok: boolean }> {
  try {
    const { sock } = await apiRequest(formatHostPort(n.apiAddress!), { token: n.api.token, ...req });
    sock.destroy();
    return { ok: true };
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code };
  }
}

test('an in-process app holds its port; a local app with the token cannot take it, accept its streams or see them', async (t) => {
  const { node, app } = await inProcessMesh(t);
  const c = await node();
  const a = await node([c]);
  const vpn = new InProcessApp(c, { name: 'vpn-server', port: 44 });
  t.after(() => vpn.close());
  const remotes: string[] = [];
  vpn.listen((s, remote) => {
    remotes.push(remote.pk);
    echoServer(s);
  });

  // The port is taken as by a separate app, and the node lists the app.
  await assert.rejects(app(c, 'intruder', 44), { code: 'port_taken', message: 'port 44 is already taken by app "vpn-server"' });
  assert.deepEqual(c.api.apps(), [{ name: 'vpn-server', port: 44 }]);
  assert.equal(c.api.isListening(44), true);

  // A local app on node C watches its control connection while node A dials port 44.
  const local = await app(c, 'local', 50);
  const seen: unknown[] = [];
  local.listen((_s, remote) => seen.push(remote));
  const dialer = await app(a, 'dialer');
  const s = (await dialWhenRoutable(dialer, c.pkHex, 44)) as Socket;
  assert.equal(await echoOf(s, 'through the in-process app'), 'through the in-process app');
  assert.deepEqual(remotes, [a.pkHex], 'the stream carries the dialer\'s authenticated key');
  assert.deepEqual(seen, [], 'no incoming event reached the local app');

  // No pending accept exists for the in-process app's streams: guessed ids are unknown to any session.
  const session = (local as unknown as { session: string }).session;
  for (let i = 1; i <= 5; i++) assert.deepEqual(await rawApi(c, { op: 'accept', session, id: `s${i}` }), { ok: false, code: 'unknown_stream' });
  // Even a client that learnt the in-process registration's id (read here from the node's internals) cannot
  // dial or accept as it: only a separate app's control connection is a session of the API.
  const inProc = [...(c.api as unknown as { sessions: Map<string, unknown> }).sessions.keys()].find((k) => k.startsWith('in-process:'))!;
  assert.ok(inProc);
  assert.deepEqual(await rawApi(c, { op: 'dial', session: inProc, pk: a.pkHex, port: 1 }), { ok: false, code: 'not_registered' });
  assert.deepEqual(await rawApi(c, { op: 'accept', session: inProc, id: 's1' }), { ok: false, code: 'not_registered' });
  s.destroy();

  // Closed: the port is free again, and a dial to it now reaches whoever registers it next.
  await vpn.close();
  assert.equal(c.api.isListening(44), false);
  const next = await app(c, 'next', 44);
  next.listen((sock) => echoServer(sock));
  const s2 = (await dialWhenRoutable(dialer, c.pkHex, 44)) as Socket;
  assert.equal(await echoOf(s2, 'to the separate app now'), 'to the separate app now');
  assert.deepEqual(remotes, [a.pkHex], 'the closed in-process app got nothing more');
  s2.destroy();
});

test('an in-process app dials, announces and queries; closing it ends its dialed streams and later calls fail', async (t) => {
  const { node, app } = await inProcessMesh(t);
  const c = await node();
  const a = await node([c]);
  const echo = await app(c, 'echo', 7);
  echo.listen((sock) => echoServer(sock));
  const client = new InProcessApp(a, { name: 'vpn-client' });
  assert.ok(client.port >= 49152, 'no port asked: the node picks one from 49152');

  const s = await dialWhenRoutable(client, c.pkHex, 7);
  assert.equal(await echoOf(s as Socket, 'from inside node A'), 'from inside node A');

  await client.announce({ name: 'in-proc-test', attrs: { v: '1' } });
  const other = await app(c, 'q');
  await waitFor('the announcement reached the messenger', async () => (await other.query('in-proc-test')).some((e) => e.pk === a.pkHex && e.port === client.port));
  assert.deepEqual(await client.query('in-proc-test'), [{ pk: a.pkHex, port: client.port, attrs: { v: '1' } }]);
  await assert.rejects(client.announce({ name: '' }), { code: 'bad_request' });

  const closed = once(client, 'close');
  const streamClosed = once(s, 'close');
  client.closeWith(undefined);
  assert.deepEqual(await closed, [undefined]);
  await streamClosed;
  await assert.rejects(client.dial(c.pkHex, 7), { code: 'closed' });
  await assert.rejects(client.query('in-proc-test'), { code: 'closed' });
  await waitFor('the service withdrawn', async () => !(await other.query('in-proc-test')).length);
});
