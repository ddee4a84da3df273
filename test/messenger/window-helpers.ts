// Shared by the window-sizing tests: in-process messengers (real sockets) with chosen window limits, among them one
// that speaks as a messenger from before window sizing, and a checked transfer over a relayed stream.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import type { Duplex } from 'node:stream';
import { generateKeyPair } from '../../src/net/keys.js';
import { MessengerServer, type MessengerLimits } from '../../src/messenger/server.js';
import type { MessengerAddress } from '../../src/messenger/address.js';
import type { MessengerClient } from '../../src/messenger/client.js';
import type { RelayStream } from '../../src/messenger/stream.js';

export const MiB = 1024 * 1024;

/**
 * The window limits of a messenger from before window sizing: 1 MiB per stream and nothing beyond, so its HELLO
 * reply says `maxWindow` 1 MiB and no `baseWindow` / `connWindow`, byte for byte as before.
 */
export const LEGACY_LIMITS: Partial<MessengerLimits> = { maxWindow: MiB, baseWindow: MiB };

/** An in-process messenger on 127.0.0.1 with `limits`; closed after the test. */
export async function inprocMessenger(t: TestContext, limits: Partial<MessengerLimits> = {}): Promise<{ server: MessengerServer; address: MessengerAddress }> {
  const server = new MessengerServer({ key: generateKeyPair(), host: '127.0.0.1', port: 0, limits });
  const addr = await server.listen();
  t.after(() => server.close());
  return { server, address: { pk: server.publicKey, ...addr } };
}

export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface Transfer {
  /** SHA-256 of what was sent and of what arrived. */
  sent: string;
  got: string;
  /** The receiver's window, largest seen and last, and the sender's receive window (for its direction). */
  maxWindow: number;
  lastWindow: number;
}

/**
 * Sends `bytes` random bytes from `a` to `b` over a relayed stream (port `port`), writing with backpressure and
 * watching the receiving stream's window at every chunk it reads.
 */
export async function transfer(a: MessengerClient, b: MessengerClient & { pkHex: string }, port: number, bytes: number): Promise<Transfer> {
  const payload = randomBytes(bytes);
  let maxWindow = 0;
  let lastWindow = 0;
  const arrived = new Promise<Buffer>((resolve, reject) => {
    const stop = b.listen(port, (s: Duplex) => {
      stop();
      const rs = s as RelayStream;
      const parts: Buffer[] = [];
      s.on('error', reject);
      s.on('data', (d: Buffer) => {
        parts.push(d);
        lastWindow = rs.receiveWindow;
        maxWindow = Math.max(maxWindow, lastWindow);
      });
      s.on('end', () => resolve(Buffer.concat(parts)));
    });
  });
  const s = await a.open(b.pkHex, port);
  s.on('error', () => {});
  for (let off = 0; off < payload.length; off += 256 * 1024) {
    if (!s.write(payload.subarray(off, off + 256 * 1024))) await once(s, 'drain');
  }
  s.end();
  const got = await arrived;
  s.destroy();
  return { sent: sha(payload), got: sha(got), maxWindow, lastWindow };
}
