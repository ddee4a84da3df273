// The dashboard's "Services in the messenger" against a real messenger: more services than one query answers
// (the messenger's maximum is QUERY_MAX_LIMIT entries) are all listed, and a messenger that does not answer
// is said on the page rather than passing for "none announced".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/net/keys.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { MessengerServer } from '../../src/messenger/server.js';
import { QUERY_MAX_LIMIT } from '../../src/messenger/types.js';
import { managerSnapshot } from '../../src/nodemanager/dashboard/index.js';

const status = () => ({ pk: '02'.padEnd(66, '0'), listen: null, nodes: [], transports: [], routes: [], routesSetUp: 0, routesFailed: 0, routesBroken: 0 });

test('every announced service is listed (paged past the messenger\'s per-query maximum); a failed query is shown', { timeout: 60_000 }, async (t) => {
  const server = new MessengerServer({ key: generateKeyPair(), host: '127.0.0.1', port: 0 });
  const { host, port } = await server.listen();
  t.after(() => server.close());
  const messengers = [{ pk: server.publicKey, host, port }];
  const count = QUERY_MAX_LIMIT + 5;
  const clients = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const c = new MessengerClient({ localKey: generateKeyPair(), messengers });
      await c.start();
      await c.announce({ services: [{ name: 'socks', port: 1000 + i }] });
      return c;
    }),
  );
  t.after(() => Promise.all(clients.map((c) => c.close())));
  const reader = new MessengerClient({ localKey: generateKeyPair(), messengers });
  await reader.start();
  const manager = { status, messenger: reader, on: () => undefined, off: () => undefined } as unknown as Parameters<typeof managerSnapshot>[0];
  const snap = await managerSnapshot(manager)();
  assert.equal(snap.servicesError, undefined);
  assert.equal(snap.services.length, count);
  assert.deepEqual(new Set(snap.services.map((s) => s.port)).size, count);

  await reader.close();
  const failed = await managerSnapshot(manager)();
  assert.match(String(failed.servicesError), /^the messenger did not answer the services query: /);
});
