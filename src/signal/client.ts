// The signal client: any Node program embeds it to be run, watched and stopped by a signal server (Viscript).
// It registers with its id (and token), answers TOP / PING / SHUTDOWN, keeps the link alive with PING frames,
// and reconnects with capped backoff after the link is lost.
//
// It never keeps the process alive by itself (socket and timers are unref'd): a program whose work is done
// exits even while connected. Pass `keepAlive: true` for a program that should live until told to shut down.

import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import { Backoff } from '../util/backoff.js';
import { parseHostPort, type HostPort } from '../util/hostport.js';
import { shutdown as processShutdown } from '../util/lifecycle.js';
import { createLogger } from '../util/log.js';
import { SignalConnection } from './connection.js';
import { OP_PING, OP_REG, OP_SHUTDOWN, OP_TOP, RESPONSE_BIT } from './frames.js';

export interface SignalClientOptions {
  address: string; // host:port of the server
  id: number;
  token?: string;
  name?: string;
  /** Run on SHUTDOWN after the answer is sent. Default: util shutdown() (hooks, then exit). */
  onShutdown?: () => void | Promise<void>;
  pingIntervalMs?: number; // default 60 s
  /** Reconnect when nothing was read for this long (the server PONGs every PING). Default 90 s. */
  idleTimeoutMs?: number;
  backoff?: { initialMs?: number; maxMs?: number }; // default 100 ms .. 5 s
  /** With the default onShutdown: exit anyway after this long if the hooks hang. Default 5 s. */
  forceExitMs?: number;
  /** Keep the process alive while the client runs. Default false. */
  keepAlive?: boolean;
}

// Garbage collections so far, for NumGC: counted from the first TOP on (node keeps no total).
let gcCount: number | undefined;
function countGcs(): number {
  if (gcCount === undefined) {
    gcCount = 0;
    new PerformanceObserver((list) => (gcCount! += list.getEntries().length)).observe({ entryTypes: ['gc'] });
  }
  return gcCount;
}

/**
 * What TOP answers: the process's own resource usage, under our names and, for a 2017 Go Viscript (which
 * reads runtime.MemStats names), under the closest Go names too.
 */
export function resourceUsage(): Record<string, number> {
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    pid: process.pid,
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    uptimeS: process.uptime(),
    Alloc: m.heapUsed + m.external,
    HeapAlloc: m.heapUsed,
    HeapInuse: m.heapUsed,
    HeapSys: m.heapTotal,
    HeapIdle: m.heapTotal - m.heapUsed,
    Sys: m.rss,
    NumGC: countGcs(),
  };
}

export class SignalClient extends EventEmitter {
  private readonly log;
  private readonly target: HostPort;
  private readonly backoff: Backoff;
  private conn: SignalConnection | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private running = false;
  private registered = false;
  private shuttingDown = false;

  constructor(private readonly opts: SignalClientOptions) {
    super();
    if (!Number.isSafeInteger(opts.id) || opts.id < 0) throw new Error(`signal client: invalid id ${opts.id}`);
    this.target = parseHostPort(opts.address, '127.0.0.1');
    this.backoff = new Backoff({ initialMs: opts.backoff?.initialMs ?? 100, maxMs: opts.backoff?.maxMs ?? 5000 });
    this.log = createLogger('signal-client', { id: opts.id });
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    const socket = this.conn?.socket;
    if (socket && !socket.destroyed) {
      // Held (ref'd) until closed, so a caller awaiting stop() is not left with an exited event loop.
      socket.ref();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => socket.destroy(), 1000); // a server slow to finish the close is not waited for
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        if (socket.connecting) socket.destroy();
        else socket.end();
      });
    }
  }

  private connect(): void {
    if (!this.running) return;
    const socket: Socket = connect({ host: this.target.host, port: this.target.port, autoSelectFamily: true });
    if (!this.opts.keepAlive) socket.unref();
    const conn = new SignalConnection(
      socket,
      {
        onMessage: (op, data) => this.onMessage(conn, op, data),
        onProtocolError: (reason) => this.log.warn('server broke the protocol, reconnecting', { reason }),
      },
      false,
    );
    this.conn = conn;
    // Counts reads only (socket.setTimeout would also count our own PINGs and never fire on a silent server).
    const idle = setTimeout(() => {
      this.log.warn('no data from the signal server, reconnecting');
      socket.destroy();
    }, this.opts.idleTimeoutMs ?? 90_000);
    idle.unref();
    socket.on('data', () => idle.refresh());
    socket.once('close', () => clearTimeout(idle));
    socket.on('connect', () => {
      this.log.debug('connected', { address: this.opts.address });
      conn.send(OP_REG, {
        Id: this.opts.id,
        ...(this.opts.token !== undefined ? { Token: this.opts.token } : {}),
        Pid: process.pid,
        ...(this.opts.name !== undefined ? { Name: this.opts.name } : {}),
      });
      const every = this.opts.pingIntervalMs ?? 60_000;
      this.pingTimer = setInterval(() => conn.sendPing(), every);
      if (!this.opts.keepAlive) this.pingTimer.unref();
    });
    socket.on('error', (err) => this.log.debug('connection error', { err }));
    socket.on('close', () => this.onClose(conn));
  }

  private onClose(conn: SignalConnection): void {
    if (this.conn !== conn) return;
    clearInterval(this.pingTimer);
    this.conn = undefined;
    const wasRegistered = this.registered;
    this.registered = false;
    if (wasRegistered) this.emit('disconnected');
    if (!this.running || this.shuttingDown) return;
    const delay = this.backoff.next();
    if (wasRegistered) this.log.info('lost the signal server, reconnecting', { delayMs: delay });
    else if (this.backoff.attempts === 5) this.log.warn('cannot register with the signal server, still trying', { address: this.opts.address });
    this.retryTimer = setTimeout(() => this.connect(), delay);
    if (!this.opts.keepAlive) this.retryTimer.unref();
    this.emit('retry', { attempt: this.backoff.attempts, delayMs: delay });
  }

  private onMessage(conn: SignalConnection, op: number, data: unknown): void {
    if (op === (OP_REG | RESPONSE_BIT)) {
      this.registered = true;
      this.backoff.reset();
      this.log.info('registered', { address: this.opts.address });
      this.emit('registered', data);
    } else if (op === OP_TOP) {
      conn.send(OP_TOP | RESPONSE_BIT, resourceUsage());
    } else if (op === OP_PING) {
      conn.send(OP_PING | RESPONSE_BIT, null);
    } else if (op === OP_SHUTDOWN) {
      this.onShutdownRequest(conn);
    } else {
      this.log.debug('ignoring unknown op', { op });
    }
  }

  private onShutdownRequest(conn: SignalConnection): void {
    if (this.shuttingDown) {
      conn.send(OP_SHUTDOWN | RESPONSE_BIT, { Pid: process.pid });
      return;
    }
    this.shuttingDown = true;
    this.log.info('shutdown requested by the signal server');
    const run = async () => {
      if (this.opts.onShutdown) {
        await this.opts.onShutdown();
        return;
      }
      const force = setTimeout(() => process.exit(0), this.opts.forceExitMs ?? 5000);
      force.unref();
      await processShutdown(0);
    };
    // Answer first, and wait until the answer is handed to the kernel, so the server hears it before we exit.
    conn.send(OP_SHUTDOWN | RESPONSE_BIT, { Pid: process.pid }, () => {
      run().catch((err: Error) => this.log.error('shutdown handler failed', { err }));
    });
  }
}
