// Shared by the net tests: raw TCP socket pairs and an exact-length reader that never drops bytes.
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
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
