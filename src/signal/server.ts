// The signal server: programs connect, register with an id (and the token they were given), and answer
// ping / resource usage / shutdown requests. One bad connection never affects the others.

import { EventEmitter } from 'node:events';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type RateLimitedLog, createLogger, rateLimited } from '../util/log.js';
import { formatHostPort } from '../util/hostport.js';
import { type QueuedOutput, SignalConnection } from './connection.js';
import { SignalError } from './errors.js';
import { OP_PING, OP_REG, OP_SHUTDOWN, OP_TOP, RESPONSE_BIT } from './frames.js';

export interface SignalServerOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 7999 (0 = ephemeral)
  /** Accept REGs without a token (2017 clients), but only from loopback. */
  allowUntokened?: boolean;
  requestTimeoutMs?: number; // default 10 s
  idleTimeoutMs?: number; // default 90 s without a byte from the client
  /** Protocol errors (a refused REG, junk) are logged at most once per this interval, with a count (10 s). */
  logIntervalMs?: number;
}

export interface SignalClientInfo {
  id: number;
  pid?: number;
  name?: string;
  remote: string;
  registeredAt: number;
}

export interface ProtocolErrorInfo {
  remote: string;
  reason: string;
  id?: number;
}

interface Pending {
  resolve(data: unknown): void;
  reject(err: SignalError): void;
  timer: NodeJS.Timeout;
}

interface Client {
  conn: SignalConnection;
  remote: string;
  loopback: boolean;
  info?: SignalClientInfo; // set once registered
  pending: Map<number, Pending>; // by request op: at most one outstanding per op
  idle: NodeJS.Timeout;
}

export const DEFAULT_SIGNAL_PORT = 7999;
const OP_NAMES: Record<number, string> = { [OP_TOP]: 'top', [OP_PING]: 'ping', [OP_SHUTDOWN]: 'shutdown' };

function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return a === '::1' || /^127\./.test(a);
}

// Hashing first makes both sides the same length, so the comparison time says nothing about the token.
function sameToken(expected: string, given: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(expected), h(given));
}

/** Reads a JSON field the way Go's encoding/json does: exact name first, then case-insensitively. */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

export class SignalServer extends EventEmitter {
  private readonly log = createLogger('signal-server');
  // Anyone who can connect can provoke these at will: one line per interval, with the count of the others.
  private readonly protocolErrors: RateLimitedLog;
  private readonly opts: Required<SignalServerOptions>;
  private server: Server | undefined;
  private readonly conns = new Set<Client>();
  private readonly byId = new Map<number, Client>();
  private readonly tokens = new Map<number, string>();
  private closed = false;
  /** The most output queued for any one connection so far, in bytes and in writes (for tests and diagnostics). */
  readonly peakQueued: QueuedOutput = { bytes: 0, writes: 0 };

  constructor(opts: SignalServerOptions = {}) {
    super();
    this.opts = {
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? DEFAULT_SIGNAL_PORT,
      allowUntokened: opts.allowUntokened ?? false,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      idleTimeoutMs: opts.idleTimeoutMs ?? 90_000,
      logIntervalMs: opts.logIntervalMs ?? 10_000,
    };
    this.protocolErrors = rateLimited(this.log, 'warn', 'protocol error, closing connection', this.opts.logIntervalMs);
  }

  listen(): Promise<{ host: string; port: number }> {
    if (this.server) return Promise.reject(new Error('signal server: listen() called twice'));
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const where = formatHostPort({ host: this.opts.host, port: this.opts.port });
        reject(new Error(`signal server: cannot listen on ${where}: ${err.code ?? err.message}`));
      };
      server.once('error', onError);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', onError);
        server.on('error', (err) => this.log.error('server socket error', { err }));
        const addr = server.address();
        const port = typeof addr === 'object' && addr ? addr.port : this.opts.port;
        this.log.info('listening', { host: this.opts.host, port });
        resolve({ host: this.opts.host, port });
      });
    });
  }

  expect(id: number, token: string): void {
    this.tokens.set(id, token);
  }

  /** Drops the token for `id` and disconnects that client if it is connected. */
  forget(id: number): void {
    this.tokens.delete(id);
    const c = this.byId.get(id);
    if (c) c.conn.socket.destroy();
  }

  isRegistered(id: number): boolean {
    return this.byId.has(id);
  }

  clients(): SignalClientInfo[] {
    return [...this.byId.values()].map((c) => ({ ...c.info! }));
  }

  /** Round trip of a PING request, in milliseconds. */
  async ping(id: number): Promise<number> {
    const t0 = performance.now();
    await this.request(id, OP_PING);
    return performance.now() - t0;
  }

  async top(id: number): Promise<Record<string, unknown>> {
    const data = await this.request(id, OP_TOP);
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      throw new SignalError('bad_response', `client ${id} answered top with ${JSON.stringify(data)}, not an object`);
    }
    return data as Record<string, unknown>;
  }

  async shutdown(id: number): Promise<{ Pid: number }> {
    const data = await this.request(id, OP_SHUTDOWN);
    const pid = data && typeof data === 'object' ? field(data as Record<string, unknown>, 'Pid') : undefined;
    if (typeof pid !== 'number') {
      throw new SignalError('bad_response', `client ${id} answered shutdown with ${JSON.stringify(data)}, no Pid`);
    }
    return { Pid: pid };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.conns) c.conn.socket.destroy();
    this.protocolErrors.flush();
    const server = this.server;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private request(id: number, op: number): Promise<unknown> {
    const name = OP_NAMES[op];
    if (this.closed) return Promise.reject(new SignalError('closed', 'the signal server is closed'));
    const c = this.byId.get(id);
    if (!c) return Promise.reject(new SignalError('not_registered', `no signal client with id ${id}`));
    if (c.pending.has(op)) {
      return Promise.reject(new SignalError('busy', `a ${name} request to client ${id} is already in progress`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        c.pending.delete(op);
        reject(new SignalError('timeout', `client ${id} did not answer ${name} within ${this.opts.requestTimeoutMs} ms`));
      }, this.opts.requestTimeoutMs);
      c.pending.set(op, { resolve, reject, timer });
      c.conn.send(op, null);
    });
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const remote = formatHostPort({ host: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 });
    const client: Client = {
      remote,
      loopback: isLoopback(socket.remoteAddress),
      pending: new Map(),
      idle: setTimeout(() => {
        this.log.info('closing idle connection', { remote, id: client.info?.id });
        socket.destroy();
      }, this.opts.idleTimeoutMs),
      conn: undefined as unknown as SignalConnection,
    };
    client.conn = new SignalConnection(
      socket,
      {
        onMessage: (op, data) => this.onMessage(client, op, data),
        onProtocolError: (reason) => this.protocolError(client, reason),
      },
      true,
    );
    this.conns.add(client);
    socket.on('data', () => client.idle.refresh());
    socket.on('error', (err) => this.log.debug('connection error', { remote, err }));
    socket.on('close', () => this.onClose(client));
  }

  private onMessage(c: Client, op: number, data: unknown): void {
    if (op & RESPONSE_BIT) {
      const p = c.pending.get(op & ~RESPONSE_BIT);
      if (!p) return; // late answer to a request that already timed out
      c.pending.delete(op & ~RESPONSE_BIT);
      clearTimeout(p.timer);
      p.resolve(data);
    } else if (op === OP_REG) {
      this.register(c, data);
    } else {
      // New ops from newer clients are ignored, so that old servers and new clients stay compatible.
      this.log.debug('ignoring unknown op', { remote: c.remote, op });
    }
  }

  private register(c: Client, data: unknown): void {
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      return c.conn.fail(`REG body ${JSON.stringify(data)} is not an object`);
    }
    const body = data as Record<string, unknown>;
    const id = field(body, 'Id');
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      return c.conn.fail(`REG carries an invalid Id ${JSON.stringify(id)}`);
    }
    const token = field(body, 'Token');
    const expected = this.tokens.get(id);
    if (expected !== undefined) {
      if (typeof token !== 'string') return c.conn.fail(`REG for id ${id} carries no token, and one is required`);
      if (!sameToken(expected, token)) return c.conn.fail(`REG for id ${id} carries a wrong token`);
    } else if (!this.opts.allowUntokened) {
      return c.conn.fail(`REG for id ${id}: no such id is expected (untokened clients are not allowed)`);
    } else if (!c.loopback) {
      return c.conn.fail(`REG for id ${id}: untokened clients are accepted only from loopback`);
    }

    const old = this.byId.get(id);
    if (old && old !== c) {
      // A reconnecting client replaces its old connection (which may not have noticed it is dead yet).
      this.log.info('client reconnected, replacing old connection', { id, old: old.remote, remote: c.remote });
      this.drop(old, 'replaced');
      old.conn.socket.destroy();
    }
    if (c.info && c.info.id !== id) this.drop(c, 'changed id');

    const pid = field(body, 'Pid');
    const name = field(body, 'Name');
    c.info = {
      id,
      remote: c.remote,
      registeredAt: Date.now(),
      ...(typeof pid === 'number' ? { pid } : {}),
      ...(typeof name === 'string' ? { name } : {}),
    };
    this.byId.set(id, c);
    c.conn.send(OP_REG | RESPONSE_BIT, { Id: id });
    this.log.info('client registered', { ...c.info });
    this.emit('register', { ...c.info });
  }

  /** Unregisters a connection's id (if it holds it) and fails its outstanding requests. */
  private drop(c: Client, why: string): void {
    for (const [op, p] of c.pending) {
      clearTimeout(p.timer);
      p.reject(new SignalError('closed', `connection to client ${c.info?.id} closed before it answered ${OP_NAMES[op]}`));
    }
    c.pending.clear();
    const info = c.info;
    if (info && this.byId.get(info.id) === c) {
      this.byId.delete(info.id);
      this.log.info('client unregistered', { id: info.id, why });
      this.emit('unregister', { ...info });
    }
    c.info = undefined;
  }

  private onClose(c: Client): void {
    clearTimeout(c.idle);
    this.peakQueued.bytes = Math.max(this.peakQueued.bytes, c.conn.peakQueued.bytes);
    this.peakQueued.writes = Math.max(this.peakQueued.writes, c.conn.peakQueued.writes);
    this.conns.delete(c);
    this.drop(c, 'connection closed');
  }

  private protocolError(c: Client, reason: string): void {
    const info: ProtocolErrorInfo = { remote: c.remote, reason, ...(c.info ? { id: c.info.id } : {}) };
    this.protocolErrors.note(reason, { remote: info.remote, ...(info.id !== undefined ? { id: info.id } : {}) });
    this.emit('protocolError', info);
  }
}
