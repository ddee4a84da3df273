// The client as seen on the wire by a hand-written server: what it sends, ACKs and answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { SignalClient } from '../../src/signal/index.js';
import { FrameDecoder, decodeMessage, encodeAck, encodeMessage, encodeNormal, type Frame } from '../../src/signal/frames.js';
import { withTimeout } from './helpers.js';

test('the client sends REG with Id, Token, Pid and Name, ACKs requests, answers TOP and PING, ignores unknown ops, and PINGs', async (t) => {
  const accepted = new Promise<Socket>((resolve) => {
    const srv = createServer(resolve);
    srv.listen(0, '127.0.0.1', () => {
      const c = new SignalClient({
        address: `127.0.0.1:${(srv.address() as { port: number }).port}`,
        id: 9,
        token: 't0k',
        name: 'wire',
        pingIntervalMs: 50,
        onShutdown: () => {},
      });
      c.start();
      t.after(async () => {
        await c.stop();
        srv.close();
      });
    });
  });
  const sock = await withTimeout(accepted, 5000, 'client connect');
  const d = new FrameDecoder();
  const queue: Frame[] = [];
  let wake: (() => void) | undefined;
  sock.on('data', (chunk: Buffer) => {
    queue.push(...d.push(chunk));
    wake?.();
  });
  const next = async (): Promise<Frame> => {
    while (!queue.length) await withTimeout(new Promise<void>((r) => (wake = r)), 5000, 'a frame from the client');
    return queue.shift()!;
  };
  /** The next frame that is not a keepalive PING. */
  const nextNonPing = async (): Promise<Frame> => {
    for (;;) {
      const f = await next();
      if (f.type !== 'ping') return f;
    }
  };
  const message = (f: Frame) => {
    assert.equal(f.type, 'normal');
    return { seq: (f as { seq: number }).seq, ...decodeMessage((f as { body: Buffer }).body) };
  };

  assert.deepEqual(message(await nextNonPing()), { seq: 1, op: 0, data: { Id: 9, Token: 't0k', Pid: process.pid, Name: 'wire' } });
  sock.write(Buffer.concat([encodeAck(1), encodeNormal(1, encodeMessage(0x80, { Id: 9 })), encodeNormal(2, encodeMessage(0x00, null))]));
  assert.deepEqual(await nextNonPing(), { type: 'ack', seq: 1 });
  assert.deepEqual(await nextNonPing(), { type: 'ack', seq: 2 });
  const top = message(await nextNonPing());
  assert.equal(top.seq, 2);
  assert.equal(top.op, 0x80);
  assert.equal((top.data as { pid: number }).pid, process.pid);

  sock.write(Buffer.concat([encodeNormal(3, encodeMessage(0x33, null)), encodeNormal(4, encodeMessage(0x01, null))]));
  assert.deepEqual(await nextNonPing(), { type: 'ack', seq: 3 });
  assert.deepEqual(await nextNonPing(), { type: 'ack', seq: 4 });
  assert.deepEqual(message(await nextNonPing()), { seq: 3, op: 0x81, data: null });

  const ping = await next();
  assert.equal(ping.type, 'ping');
  const ms = Number((ping as { ms: bigint }).ms);
  assert.ok(Math.abs(ms - Date.now()) < 5000, 'keepalive carries the unix time in ms');
});
