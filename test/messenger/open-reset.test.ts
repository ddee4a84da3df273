// A stream the far end resets the moment it accepts it: ACCEPT and RESET reach the opener's client in one read.
// The opener must get the stream first and hear the reset through its own 'error' listener (or see open() reject);
// before the fix the stream's 'error' was emitted (process.nextTick) before open()'s caller ran (a promise
// continuation), with no listener yet: an uncaught 'error' that killed the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { MessengerError } from '../../src/messenger/errors.js';
import { TRANSPORT_PORT } from '../../src/node/channels.js';
import { Cluster, status } from '../node/harness.js';
import { client, startMessenger, tempDir } from './helpers.js';

const ROUNDS = 30;

/** What the opener's own listeners see of a stream: its error, or none if it closed without one. */
function outcome(s: Duplex): Promise<Error | undefined> {
  return new Promise((resolve) => {
    s.on('error', resolve);
    s.on('close', () => resolve(undefined));
    s.resume();
  });
}

test('a stream reset by the far end right after it accepted reaches the opener, whose listener gets the error', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const a = await client(t, [m.address]);
  const b = await client(t, [m.address]);
  b.listen(7, (s) => s.destroy()); // accepts (ACCEPT is sent before the handler runs), then resets at once
  const uncaught: Error[] = [];
  const onUncaught = (err: Error) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));

  const seen: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let s: Duplex;
    try {
      s = await a.open(b.pkHex, 7);
    } catch (err) {
      // RESET overtook ACCEPT at the messenger (or arrived alone): open() rejects, also fine for the caller.
      assert.ok(err instanceof MessengerError, String(err));
      seen.push(`rejected:${err.code}`);
      continue;
    }
    const err = await outcome(s);
    assert.ok(err instanceof MessengerError, `round ${i}: the opener's listener gets the reset (got ${String(err)})`);
    seen.push(`error:${err.code}`);
  }
  assert.deepEqual(uncaught, [], 'no uncaught error');
  assert.ok(seen.every((x) => x.endsWith(':reset')), seen.join(', '));
  assert.ok(seen.some((x) => x.startsWith('error:')), `open() resolved at least once before the reset: ${seen.join(', ')}`);
  t.diagnostic(seen.join(', '));
});

test('a stranger that accepts a relayed transport and resets it at once does not crash the skywire node dialing it', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  // The stranger: a messenger client that announces no address (so nodes take the relay) and answers every
  // transport it is offered with ACCEPT + RESET.
  const evil = await client(t, [m.address]);
  let resets = 0;
  let onReset = () => {};
  evil.listen(TRANSPORT_PORT, (s) => {
    s.destroy();
    resets++;
    onReset();
  });
  const twice = new Promise<void>((resolve) => (onReset = () => resets >= 2 && resolve()));
  const c = new Cluster();
  t.after(() => c.stop());
  const node = await c.spawn(['node', '--key', join(c.dir, 'n.json'), '--messenger', m.text, '--connect', evil.pkHex, '--relay-only', '--json']);
  const died = new Promise<never>((_, reject) =>
    node.child.once('exit', (code, sig) => reject(new Error(`the node died (${code ?? sig}): ${node.stderr().slice(-2000)}`))),
  );
  await Promise.race([twice, died]); // the node handled the first reset and tried again, or it died of it
  const s = await status(node.info.apiFile!);
  assert.equal(node.child.exitCode, null, node.stderr());
  assert.equal(node.child.signalCode, null);
  assert.ok(Array.isArray(s.transports), 'the node still answers its app API');
});
