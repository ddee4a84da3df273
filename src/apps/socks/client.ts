// The socks-client: a SOCKS5 server (RFC 1928, RFC 1929 username/password) for local programs. Each
// CONNECT becomes one stream to a socks-server, opened by the injected `dial`; the exit's status is
// passed back as the SOCKS5 reply. Bad input ends only that connection, with the proper reply or a close.
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { createLogger, type Logger } from '../../util/log.js';
import { ByteReader } from './byte-reader.js';
import {
  ATYP_DOMAIN,
  BadAddressTypeError,
  encodeAddress,
  encodeRequest,
  isValidHostname,
  readAddress,
  readReply,
  Rep,
  REP_TEXT,
  type Target,
} from './header.js';
import { splice } from './splice.js';

const SOCKS_VERSION = 5;
const METHOD_NO_AUTH = 0x00;
const METHOD_USER_PASS = 0x02;
const METHOD_NONE_ACCEPTABLE = 0xff;
const AUTH_VERSION = 1;
const CMD_CONNECT = 1;

export interface SocksClientOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 1080; 0 = ephemeral
  /** Require RFC 1929 username/password; otherwise only "no authentication" is offered. */
  auth?: { user: string; pass: string };
  /** Opens a stream to the socks-server for this target (over the mesh, or anything in tests). */
  dial: (target: Target) => Promise<Duplex>;
  /** Time allowed from accept to a complete request (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Time allowed for the exit's answer once the stream is open (default 30 s). */
  replyTimeoutMs?: number;
  log?: Logger;
}

/** The SOCKS5 reply code for a failed mesh dial (AppApiError codes of the node SDK). */
export function repForDialError(err: { code?: string }): number {
  switch (err.code) {
    case 'no_route':
    case 'offline':
    case 'not_registered':
      return Rep.NETWORK_UNREACHABLE;
    case 'timeout':
      return Rep.TTL_EXPIRED;
    default:
      return Rep.GENERAL_FAILURE;
  }
}

/** A failure that the local program is told about with this reply (null: just close). */
class Refusal extends Error {
  constructor(
    readonly reply: Buffer | null,
    message: string,
  ) {
    super(message);
  }
}

function socksReply(rep: number, bound?: Target): Buffer {
  const addr = encodeAddress(bound ?? { host: '0.0.0.0', port: 0, atyp: 1 });
  return Buffer.concat([Buffer.from([SOCKS_VERSION, rep, 0x00]), addr]);
}

function sameSecret(a: Buffer, b: string): boolean {
  const bb = Buffer.from(b, 'utf8');
  return a.length === bb.length && timingSafeEqual(a, bb);
}

/** Ends a socket after `data`, then drops it if the peer does not close its side soon. */
function finish(sock: Duplex, data: Buffer | null): void {
  if (data) sock.end(data);
  else sock.destroy();
  sock.resume();
  setTimeout(() => sock.destroy(), 2000).unref();
}

/** Emits 'connection-closed' (count of open connections) whenever a local connection ends. */
export class SocksClient extends EventEmitter {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly log: Logger;

  constructor(private readonly o: SocksClientOptions) {
    super();
    this.log = o.log ?? createLogger('socks-client');
  }

  async listen(): Promise<{ host: string; port: number }> {
    const server = createServer({ allowHalfOpen: true }, (sock) => this.accept(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port ?? 1080, this.o.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error('listener error', { error: err.message }));
    const a = server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.once('close', () => {
      this.sockets.delete(sock);
      this.emit('connection-closed', this.sockets.size);
    });
    sock.on('error', () => {}); // a reset from the local program ends only its connection
    sock.setNoDelay(true);
    void this.serve(sock);
  }

  private async serve(sock: Socket): Promise<void> {
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    const reader = new ByteReader(sock);
    const timer = setTimeout(() => sock.destroy(), this.o.handshakeTimeoutMs ?? 10_000);
    let target: Target;
    try {
      target = await this.handshake(sock, reader);
    } catch (err) {
      clearTimeout(timer);
      reader.release();
      this.log.info('handshake failed', { peer, error: (err as Error).message });
      finish(sock, err instanceof Refusal ? err.reply : null);
      return;
    }
    clearTimeout(timer);
    const dest = `${target.host}:${target.port}`;
    let stream: Duplex;
    try {
      stream = await this.o.dial(target);
    } catch (err) {
      const rep = repForDialError(err as { code?: string });
      // An exit not (yet) reachable, or a node not yet connected to its manager, is normal while a mesh starts,
      // and the program is told: not a warning.
      const expected = rep === Rep.NETWORK_UNREACHABLE || (err as { code?: string }).code === 'no_manager';
      this.log[expected ? 'info' : 'warn']('cannot reach the socks-server', { target: dest, rep: REP_TEXT[rep], error: (err as Error).message });
      reader.release();
      finish(sock, socksReply(rep));
      return;
    }
    if (sock.destroyed) {
      stream.destroy();
      return;
    }
    stream.on('error', () => {});
    await this.relay(sock, reader, stream, target);
  }

  /** RFC 1928 method selection, RFC 1929 sub-negotiation, then the request. */
  private async handshake(sock: Socket, r: ByteReader): Promise<Target> {
    const [ver, nmethods] = await r.read(2);
    if (ver !== SOCKS_VERSION) throw new Refusal(null, `not SOCKS5 (version byte ${ver})`);
    const methods = nmethods ? await r.read(nmethods) : Buffer.alloc(0);
    const want = this.o.auth ? METHOD_USER_PASS : METHOD_NO_AUTH;
    if (!methods.includes(want)) {
      throw new Refusal(Buffer.from([SOCKS_VERSION, METHOD_NONE_ACCEPTABLE]), 'no acceptable auth method');
    }
    sock.write(Buffer.from([SOCKS_VERSION, want]));
    if (this.o.auth) {
      const [aver, ulen] = await r.read(2);
      if (aver !== AUTH_VERSION) throw new Refusal(Buffer.from([AUTH_VERSION, 0x01]), `bad auth version ${aver}`);
      const user = await r.read(ulen);
      const [plen] = await r.read(1);
      const pass = await r.read(plen);
      const okUser = sameSecret(user, this.o.auth.user);
      const okPass = sameSecret(pass, this.o.auth.pass);
      if (!(okUser && okPass)) throw new Refusal(Buffer.from([AUTH_VERSION, 0x01]), 'wrong username or password');
      sock.write(Buffer.from([AUTH_VERSION, 0x00]));
    }
    const [rver, cmd] = await r.read(3);
    if (rver !== SOCKS_VERSION) throw new Refusal(socksReply(Rep.GENERAL_FAILURE), `bad request version ${rver}`);
    if (cmd !== CMD_CONNECT) {
      throw new Refusal(socksReply(Rep.COMMAND_NOT_SUPPORTED), `command ${cmd} not supported (only CONNECT)`);
    }
    let target: Target;
    try {
      target = await readAddress(r);
    } catch (err) {
      if (err instanceof BadAddressTypeError) throw new Refusal(socksReply(Rep.ADDRESS_TYPE_NOT_SUPPORTED), err.message);
      throw err;
    }
    // A name that cannot exist anywhere is refused here rather than sent across the mesh.
    if (target.atyp === ATYP_DOMAIN && !isValidHostname(target.host)) {
      throw new Refusal(socksReply(Rep.HOST_UNREACHABLE), `invalid host name (${target.host.length} bytes)`);
    }
    return target;
  }

  private async relay(sock: Socket, local: ByteReader, stream: Duplex, target: Target): Promise<void> {
    const dest = `${target.host}:${target.port}`;
    const started = Date.now();
    const remote = new ByteReader(stream);
    const timer = setTimeout(() => stream.destroy(), this.o.replyTimeoutMs ?? 30_000);
    let status: number;
    let bound: Target;
    // If the local program goes away while the exit is connecting, drop the stream too.
    const onLocalClose = () => stream.destroy();
    sock.once('close', onLocalClose);
    try {
      stream.write(encodeRequest(target));
      ({ status, bound } = await readReply(remote));
    } catch (err) {
      clearTimeout(timer);
      sock.off('close', onLocalClose);
      const timedOut = Date.now() - started >= (this.o.replyTimeoutMs ?? 30_000);
      const rep = timedOut ? Rep.TTL_EXPIRED : Rep.GENERAL_FAILURE;
      this.log.warn('no answer from the socks-server', { target: dest, rep: REP_TEXT[rep], error: (err as Error).message });
      remote.release();
      stream.destroy();
      local.release();
      if (!sock.destroyed) finish(sock, socksReply(rep));
      return;
    }
    clearTimeout(timer);
    sock.off('close', onLocalClose);
    if (status !== Rep.SUCCEEDED) {
      this.log.info('exit refused', { target: dest, rep: REP_TEXT[status] ?? status });
      remote.release();
      stream.destroy();
      local.release();
      finish(sock, socksReply(status));
      return;
    }
    const fromExit = remote.release();
    const fromLocal = local.release();
    if (sock.destroyed || stream.destroyed) {
      sock.destroy();
      stream.destroy();
      return;
    }
    sock.write(socksReply(Rep.SUCCEEDED, bound));
    if (fromExit.length) sock.write(fromExit);
    if (fromLocal.length) stream.write(fromLocal);
    this.log.info('connected', { target: dest, ms: Date.now() - started });
    splice(sock, stream, (s, err) =>
      this.log.info('closed', { target: dest, up: s.up, down: s.down, error: err?.message }),
    );
  }
}
