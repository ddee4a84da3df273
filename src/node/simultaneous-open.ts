// TCP simultaneous open, the socket half of hole punching: both nodes dial each other from a known local port at
// the same moment; each one's outgoing SYN opens its own router's mapping, so the other's SYN gets through, and
// the two SYNs make one connection (RFC 793's simultaneous open). Linux masquerade keeps a connection's source
// port when it can, so the peer's public port is predicted to be the local port it names.
// Node 20 has no SO_REUSEPORT for TCP, so this never dials from the listening port: each punch dials from a
// fresh free port (libuv binds with SO_REUSEADDR, so one local port may dial several candidate addresses).
import { connect, createServer, type Socket } from 'node:net';
import { formatHostPort } from '../util/hostport.js';

export interface SimultaneousOpenOptions {
  /** The peer's IP addresses (from its messenger entry), each dialed at `port`. */
  ips: readonly string[];
  port: number;
  localPort: number;
  /** Give up after this long. */
  deadlineMs: number;
  /** Pause before dialing an address again after a refusal (a router that resets the SYN that came too early). */
  retryMs?: number;
  /** Tries per address at most (bounds what one punch sends). */
  maxTries?: number;
}

/** A local port free right now (bound on every interface, then released) to dial a punch from. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '0.0.0.0', port: 0 }, () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no free port'))));
    });
  });
}

/**
 * Dials every address from `localPort`, again after each refusal, until one connects (its socket is returned,
 * the rest destroyed) or the deadline; rejects naming each address and its last error.
 */
export function simultaneousOpen(o: SimultaneousOpenOptions): Promise<Socket> {
  const retryMs = o.retryMs ?? 25;
  const maxTries = o.maxTries ?? 40;
  return new Promise((resolve, reject) => {
    if (!o.ips.length) {
      reject(new Error('no address to punch to'));
      return;
    }
    const live = new Set<Socket>();
    const timers = new Set<NodeJS.Timeout>();
    const lastError = new Map<string, string>();
    let done = false;
    const finish = (fn: () => void) => {
      done = true;
      clearTimeout(deadline);
      for (const t of timers) clearTimeout(t);
      fn();
    };
    const deadline = setTimeout(() => {
      for (const s of live) s.destroy();
      const errs = o.ips.map((ip) => `${formatHostPort({ host: ip, port: o.port })}: ${lastError.get(ip) ?? 'no answer'}`);
      finish(() => reject(new Error(`no simultaneous open from local port ${o.localPort} within ${o.deadlineMs} ms (${errs.join('; ')})`)));
    }, o.deadlineMs);
    const dial = (ip: string, tries: number) => {
      if (done) return;
      const s = connect({ host: ip, port: o.port, localPort: o.localPort });
      live.add(s);
      s.once('connect', () => {
        live.delete(s);
        if (done) {
          s.destroy();
          return;
        }
        for (const other of live) other.destroy();
        s.setNoDelay(true);
        finish(() => resolve(s));
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        live.delete(s);
        s.destroy();
        lastError.set(ip, err.code ?? err.message);
        if (done || tries + 1 >= maxTries) return;
        // A little jitter, so two sides retrying in step do not keep meeting each other's resets.
        const t = setTimeout(() => {
          timers.delete(t);
          dial(ip, tries + 1);
        }, retryMs + Math.random() * retryMs);
        timers.add(t);
      });
    };
    for (const ip of o.ips) dial(ip, 0);
  });
}
