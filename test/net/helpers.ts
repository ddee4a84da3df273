// Shared by the net tests: raw TCP socket pairs, an exact-length reader that never drops bytes, and a flood of
// silent connections from one loopback address (127.0.0.x) with handshakes made from another.
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { generateKeyPair } from '../../src/net/keys.js';
import type { SecureChannel } from '../../src/net/secure.js';
import { dialSecure } from '../../src/net/tcp.js';
import { once } from 'node:events';

export interface Cleanup {
  after(fn: () => void | Promise<void>): void;
}

/** A connected pair of plain TCP sockets on loopback, destroyed after the test. */
export async function tcpPair(t: Cleanup): Promise<{ client: Socket; server: Socket }> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  const accepted = once(srv, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  srv.close();
  t.after(() => {
    client.destroy();
    server.destroy();
  });
  return { client, server };
}

/** Collects everything a stream emits; take(n) waits for exactly n more bytes (rejects if the stream closes). */
export function collector(stream: NodeJS.ReadableStream & { on(ev: string, fn: (...a: never[]) => void): unknown }) {
  let buf = Buffer.alloc(0);
  let closed = false;
  let wake: (() => void) | undefined;
  stream.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  const onClose = () => {
    closed = true;
    wake?.();
  };
  stream.on('close', onClose);
  stream.on('end', onClose);
  return {
    get buffered(): Buffer {
      return buf;
    },
    async take(n: number): Promise<Buffer> {
      while (buf.length < n) {
        if (closed) throw new Error(`stream closed after ${buf.length} of ${n} bytes`);
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      const out = buf.subarray(0, n);
      buf = buf.subarray(n);
      return out;
    },
  };
}

/**
 * `count` silent TCP connections from `localAddress` to `port` that re-open as soon as the listener drops
 * them, like the attacker of issue 17. Resolves once all are connected and the listener has dropped at least
 * one (it is at its limit); stop() ends the flood.
 */
export async function flood(t: Cleanup, port: number, localAddress: string, count: number, host = '127.0.0.1') {
  let stopped = false;
  let drops = 0;
  let connected = 0;
  let wake: (() => void) | undefined;
  const live = new Set<Socket>();
  const open = (): void => {
    if (stopped) return;
    const s = connect({ port, host, localAddress });
    live.add(s);
    s.on('error', () => {});
    s.once('connect', () => {
      connected++;
      wake?.();
    });
    s.once('close', () => {
      live.delete(s);
      if (stopped) return;
      drops++;
      wake?.();
      setImmediate(open); // re-open what was dropped, as the attacker does
    });
  };
  const stop = () => {
    stopped = true;
    for (const s of live) s.destroy();
  };
  t.after(stop);
  for (let i = 0; i < count; i++) open();
  while (connected < count || drops === 0) await new Promise<void>((r) => (wake = r));
  return { stop, drops: () => drops };
}

/** A handshake to the listener from `localAddress` (a loopback alias), as a legitimate peer makes it. */
export function dialFrom(port: number, remotePk: Buffer, localAddress: string, host = '127.0.0.1'): Promise<SecureChannel> {
  return dialSecure(host, port, remotePk, { localKey: generateKeyPair(), handshakeTimeoutMs: 10_000, localAddress });
}
