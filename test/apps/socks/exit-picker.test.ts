// --server auto: the socks-client picks among announced socks-servers, never its own node, falls over
// to the next one when a dial fails and then sticks to the one that worked. Dials are real TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ExitPicker, NoExitError, type MeshDialer } from '../../../src/apps/socks/index.js';

// "pk" names which loopback port the stream goes to; a dial to a closed port fails like an offline exit.
function tcpMesh(dialed: string[]): MeshDialer {
  return {
    async dial(pk: string, port: number): Promise<Duplex> {
      dialed.push(pk);
      const s = connect({ host: '127.0.0.1', port });
      await once(s, 'connect');
      return s;
    },
  };
}

test('auto picks a live exit, skips our own node, and remembers the one that worked', async (t) => {
  const live = createServer((s) => s.end());
  live.listen(0, '127.0.0.1');
  await once(live, 'listening');
  t.after(() => live.close());
  const livePort = (live.address() as AddressInfo).port;
  const dead = createServer();
  dead.listen(0, '127.0.0.1');
  await once(dead, 'listening');
  const deadPort = (dead.address() as AddressInfo).port;
  dead.close();

  let queries = 0;
  const picker = new ExitPicker({
    self: 'self',
    query: async () => {
      queries++;
      return [
        { pk: 'self', port: livePort },
        { pk: 'dead', port: deadPort },
        { pk: 'live', port: livePort },
      ];
    },
  });
  const dialed: string[] = [];
  (await picker.dial(tcpMesh(dialed))).destroy();
  assert.deepEqual(dialed, ['dead', 'live']);
  dialed.length = 0;
  (await picker.dial(tcpMesh(dialed))).destroy();
  assert.deepEqual(dialed, ['live'], 'the exit that worked is tried first');
  assert.equal(queries, 2, 'a failed dial makes the next pick refresh the list');
});

test('auto with nothing announced fails with no_route (SOCKS 0x03)', async () => {
  const picker = new ExitPicker({ query: async () => [] });
  await assert.rejects(picker.dial(tcpMesh([])), (err: NoExitError) => err.code === 'no_route');
});
