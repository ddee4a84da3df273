// Secure channels over TCP: dial a known public key at host:port, or listen and hand over each authenticated peer.
import { type Server, type Socket, connect, createServer } from 'node:net';
import { createLogger, rateLimited } from '../util/log.js';
import { formatHostPort } from '../util/hostport.js';
import { shortPk } from './keys.js';
import { HandshakeAdmission, sourceOf } from './handshake-admission.js';
import { DEFAULT_ACT1_TIMEOUT_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, HandshakeError, type SecureChannel, type SecureOptions, secureAccept, secureConnect } from './secure.js';

const log = createLogger('net');
// A flood is refused thousands of times a second: one line per interval says how many.
const refusals = rateLimited(log, 'warn', 'handshakes refused or evicted (flood protection)');

export interface ListenSecureOptions extends SecureOptions {
  /** Default 127.0.0.1 (loopback); pass '0.0.0.0' or '::' to accept peers from other machines. */
  host?: string;
  /** Default 0 (an ephemeral port; read it back with address()). */
  port?: number;
  /** Connections in the handshake at most (default 256); when full, a new source still gets in (see below). */
  maxPendingHandshakes?: number;
  /** Connections in the handshake from one source address (IPv6: one /64) at most; more are dropped at once
   *  (default half of maxPendingHandshakes). Completed handshakes do not count. */
  maxPendingPerSource?: number;
  /** Act 1 must arrive within this time (default 3 s), the rest of the handshake within handshakeTimeoutMs. */
  act1TimeoutMs?: number;
}

export interface DialSecureOptions extends SecureOptions {
  /** The local address the socket binds before connecting (default: the system's choice). */
  localAddress?: string;
}

export interface SecureListener {
  address(): { host: string; port: number };
  /** Stops accepting and closes every connection accepted through this listener, established or not. */
  close(): Promise<void>;
}

/**
 * Connects to host:port and runs the handshake as initiator; the returned channel's remotePublicKey is
 * `remotePk`. The connect and the handshake together are bounded by handshakeTimeoutMs.
 */
export async function dialSecure(host: string, port: number, remotePk: Buffer, o: DialSecureOptions): Promise<SecureChannel> {
  const addr = formatHostPort({ host, port });
  const timeoutMs = o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const started = Date.now();
  const sock = connect(o.localAddress ? { host, port, localAddress: o.localAddress } : { host, port });
  sock.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new HandshakeError('TIMEOUT', `connect did not complete within ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        sock.off('error', onError);
        sock.off('connect', onConnect);
      };
      sock.once('error', onError);
      sock.once('connect', onConnect);
    });
  } catch (err) {
    sock.destroy();
    const e = err as Error;
    e.message = `cannot connect to ${addr}: ${e.message}`;
    throw e;
  }
  try {
    const remaining = Math.max(1, timeoutMs - (Date.now() - started));
    return await secureConnect(sock, remotePk, { ...o, handshakeTimeoutMs: remaining });
  } catch (err) {
    sock.destroy();
    const e = err as Error;
    e.message = `${addr}: ${e.message}`;
    throw e;
  }
}

/**
 * Listens for TCP connections, runs the responder handshake on each, and calls `onChannel` with every
 * authenticated channel. Failed handshakes are logged at debug level and dropped.
 */
export async function listenSecure(o: ListenSecureOptions, onChannel: (ch: SecureChannel) => void): Promise<SecureListener> {
  const host = o.host ?? '127.0.0.1';
  const maxPending = o.maxPendingHandshakes ?? 256;
  const admission = new HandshakeAdmission<Socket>({
    maxPending,
    maxPendingPerSource: o.maxPendingPerSource ?? Math.max(1, Math.floor(maxPending / 2)),
  });
  const accept: SecureOptions = { ...o, act1TimeoutMs: o.act1TimeoutMs ?? DEFAULT_ACT1_TIMEOUT_MS };
  const sockets = new Set<Socket>();
  let closed = false;
  const server: Server = createServer({ noDelay: true }, (sock) => {
    if (closed) {
      sock.destroy();
      return;
    }
    const verdict = admission.admit(sourceOf(sock.remoteAddress), sock);
    if (!verdict.admitted) {
      refusals.note(verdict.reason);
      sock.destroy();
      return;
    }
    if (verdict.evicted) {
      refusals.note('evicted the oldest pending handshake of the busiest source');
      verdict.evicted.destroy();
    }
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    sock.setNoDelay(true);
    const remote = formatHostPort({ host: sock.remoteAddress ?? '?', port: sock.remotePort ?? 0 });
    secureAccept(sock, accept).then(
      (ch) => {
        admission.done(sock);
        if (closed) {
          ch.destroy();
          return;
        }
        log.debug('peer authenticated', { remote, pk: shortPk(ch.remotePublicKey) });
        try {
          onChannel(ch);
        } catch (err) {
          log.error('channel handler failed', { remote, err: err as Error });
          ch.destroy();
        }
      },
      (err: Error) => {
        admission.done(sock);
        log.debug('handshake failed', { remote, err });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${formatHostPort({ host, port: o.port ?? 0 })}: ${err.message}`)));
    server.listen({ host, port: o.port ?? 0 }, () => resolve());
  });
  server.on('error', (err) => log.error('listener error', { err }));
  const bound = server.address();
  const address = typeof bound === 'object' && bound ? { host: bound.address, port: bound.port } : { host, port: o.port ?? 0 };
  return {
    address: () => address,
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) {
          resolve();
          return;
        }
        closed = true;
        refusals.flush();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
