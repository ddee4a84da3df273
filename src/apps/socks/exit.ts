// The socks-server's work on each incoming mesh stream: read the request header, check the caller and
// the destination, resolve the name here at the exit, connect with a deadline, reply with a SOCKS5
// status, then pipe. Transport-agnostic: it is handed a Duplex, whatever carried it.
import { lookup as dnsLookup } from 'node:dns/promises';
import { connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createLogger, type Logger } from '../../util/log.js';
import { AddressPolicy } from './address-policy.js';
import { ByteReader } from './byte-reader.js';
import {
  ATYP_DOMAIN,
  ATYP_IPV4,
  ATYP_IPV6,
  BadAddressTypeError,
  encodeReply,
  isValidHostname,
  readRequest,
  Rep,
  REP_TEXT,
  type Target,
} from './header.js';
import { splice } from './splice.js';

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface SocksExitOptions {
  policy?: AddressPolicy;
  /** Lower-case hex public keys allowed to use this exit; undefined = anyone. */
  clients?: ReadonlySet<string>;
  /** Time allowed to resolve and connect to the target (default 10 s). */
  connectTimeoutMs?: number;
  /** Time allowed for the request header to arrive (default 10 s). */
  headerTimeoutMs?: number;
  /** Name resolution (default: the system resolver, every address). */
  resolve?: (host: string) => Promise<ResolvedAddress[]>;
  log?: Logger;
}

/** The SOCKS5 reply code for a failed DNS lookup or connect. */
export function repForError(err: NodeJS.ErrnoException): number {
  switch (err.code) {
    case 'ECONNREFUSED':
      return Rep.CONNECTION_REFUSED;
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return Rep.NETWORK_UNREACHABLE;
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'ENODATA':
    case 'ESERVFAIL':
      return Rep.HOST_UNREACHABLE;
    case 'ETIMEDOUT':
    case 'ETIMEOUT':
      return Rep.TTL_EXPIRED;
    default:
      return Rep.GENERAL_FAILURE;
  }
}

class ExitError extends Error {
  constructor(
    readonly rep: number,
    message: string,
  ) {
    super(message);
  }
}

const defaultResolve = (host: string) => dnsLookup(host, { all: true, verbatim: true });

function connectWithin(address: string, port: number, deadline: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const ms = Math.max(1, deadline - Date.now());
    const sock = connect({ host: address, port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error(`connect to ${address} timed out`), { code: 'ETIMEDOUT' }));
    }, ms);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      sock.on('error', () => {}); // until splice() takes over; it tears both sides down on errors
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export class SocksExit {
  private readonly streams = new Set<Duplex>();
  private readonly log: Logger;
  private readonly policy: AddressPolicy;

  constructor(private readonly o: SocksExitOptions = {}) {
    this.log = o.log ?? createLogger('socks-server');
    this.policy = o.policy ?? new AddressPolicy();
  }

  get active(): number {
    return this.streams.size;
  }

  /** Serves one mesh stream from `remote`. Never throws; failures end only this stream. */
  handle(stream: Duplex, remote: { pk: string; port?: number }): void {
    this.streams.add(stream);
    stream.once('close', () => this.streams.delete(stream));
    stream.on('error', () => {}); // reported where it matters; an error must not crash the app
    void this.serve(stream, remote.pk.toLowerCase());
  }

  /** Ends every open stream (used on shutdown). */
  close(): void {
    for (const s of this.streams) s.destroy();
  }

  private async serve(stream: Duplex, from: string): Promise<void> {
    const who = from.slice(0, 8);
    const started = Date.now();
    const reader = new ByteReader(stream);
    const headerTimer = setTimeout(() => stream.destroy(), this.o.headerTimeoutMs ?? 10_000);
    let target: Target | undefined;
    let upstream: Socket | undefined;
    try {
      if (this.o.clients && !this.o.clients.has(from)) {
        throw new ExitError(Rep.NOT_ALLOWED, 'client key is not in --clients');
      }
      try {
        target = await readRequest(reader);
      } catch (err) {
        if (err instanceof BadAddressTypeError) throw new ExitError(Rep.ADDRESS_TYPE_NOT_SUPPORTED, err.message);
        throw err;
      } finally {
        clearTimeout(headerTimer);
      }
      upstream = await this.connectTarget(target);
    } catch (err) {
      clearTimeout(headerTimer);
      const rep = err instanceof ExitError ? err.rep : undefined;
      const dest = target ? `${target.host}:${target.port}` : undefined;
      if (rep === undefined) {
        this.log.info('stream dropped before a request', { from: who, error: (err as Error).message });
        stream.destroy();
        return;
      }
      this.log.info('refused', { from: who, target: dest, rep: REP_TEXT[rep], reason: (err as Error).message });
      reader.release();
      stream.end(encodeReply(rep));
      stream.resume();
      setTimeout(() => stream.destroy(), 2000).unref();
      return;
    }
    const bound: Target = {
      host: upstream.localAddress ?? '0.0.0.0',
      port: upstream.localPort ?? 0,
      atyp: isIP(upstream.localAddress ?? '') === 6 ? ATYP_IPV6 : ATYP_IPV4,
    };
    if (!bound.host || isIP(bound.host) === 0) Object.assign(bound, { host: '0.0.0.0', atyp: ATYP_IPV4 });
    const rest = reader.release();
    if (stream.destroyed) {
      upstream.destroy();
      return;
    }
    stream.write(encodeReply(Rep.SUCCEEDED, bound));
    if (rest.length) upstream.write(rest);
    const dest = `${target.host}:${target.port}`;
    this.log.info('connected', { from: who, target: dest, via: upstream.remoteAddress, ms: Date.now() - started });
    splice(stream, upstream, (s, err) =>
      this.log.info('closed', { from: who, target: dest, up: s.up, down: s.down, error: err?.message }),
    );
  }

  /** Resolves (for names), applies the policy to every address, connects to the first that answers. */
  private async connectTarget(t: Target): Promise<Socket> {
    const deadline = Date.now() + (this.o.connectTimeoutMs ?? 10_000);
    let addrs: string[];
    if (t.atyp === ATYP_DOMAIN) {
      if (!isValidHostname(t.host)) throw new ExitError(Rep.HOST_UNREACHABLE, 'not a valid host name');
      if (isIP(t.host)) addrs = [t.host];
      else {
        try {
          const resolved = await withDeadline((this.o.resolve ?? defaultResolve)(t.host), deadline);
          addrs = resolved.map((r) => r.address);
        } catch (err) {
          throw new ExitError(repForError(err as NodeJS.ErrnoException), `cannot resolve: ${(err as Error).message}`);
        }
        if (!addrs.length) throw new ExitError(Rep.HOST_UNREACHABLE, 'name has no addresses');
      }
    } else addrs = [t.host];
    const allowed = addrs.filter((a) => this.policy.refusal(a, t.port) === null);
    if (!allowed.length) throw new ExitError(Rep.NOT_ALLOWED, this.policy.refusal(addrs[0], t.port) ?? 'not allowed');
    let last: NodeJS.ErrnoException | undefined;
    for (const address of allowed) {
      if (Date.now() >= deadline) break;
      try {
        return await connectWithin(address, t.port, deadline);
      } catch (err) {
        last = err as NodeJS.ErrnoException;
      }
    }
    last ??= Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' });
    throw new ExitError(repForError(last), last.message);
  }
}

function withDeadline<T>(p: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error('name resolution timed out'), { code: 'ETIMEDOUT' })),
      Math.max(1, deadline - Date.now()),
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
