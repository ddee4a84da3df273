// The node's local app API: a loopback TCP server protected by a token. An app keeps one control connection
// (register name and port, announce, query, incoming-stream events) and opens one more connection per stream
// (dial or accept), which then carries the stream's raw bytes, so app code stays ordinary socket code.
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { createLogger } from '../util/log.js';
import { onLines, readJsonLine, writeJsonLine, ECHO_PORT } from './sdk/protocol.js';
import { AppApiError } from './sdk/errors.js';
import * as check from './app-api-checks.js';
import { MAX_SERVICES_PER_APP } from './app-api-checks.js';
import { joinStreams } from './stream-join.js';
import { checkMeteringRequest, type MeteringRequest } from './metering/view.js';

const log = createLogger('node.api');

export interface AppApiHost {
  readonly pkHex: string;
  /** `gone` says the app stopped waiting (its connection closed): a queued setup is then skipped. */
  dial(fromPort: number, pk: string, port: number, o: { minHops?: number; maxHops?: number; gone?: () => boolean }): Promise<Duplex>;
  announce(services: Array<{ name: string; port: number; attrs?: Record<string, string> }>): Promise<void>;
  query(service: string): Promise<Array<{ pk: string; port: number; attrs?: Record<string, string> }>>;
  status(): Record<string, unknown>;
  transportsCmd(action: string, pk?: string): Promise<{ transports: unknown[]; pending: unknown[] }>;
  /** Bandwidth metering (docs/metering.md): the view, or a signed statement. */
  metering?(req: MeteringRequest): Promise<Record<string, unknown>>;
}

interface AppSession {
  id: string;
  name: string;
  port: number;
  /** A separate app's control connection; absent for an app inside the node's process. */
  control?: Socket;
  /** An app inside the node's process: its incoming streams are handed over at once, no accept round. */
  deliver?: (stream: Duplex, remote: { pk: string; port: number }) => void;
  services: Array<{ name: string; port: number; attrs?: Record<string, string> }>;
}

/** An app registered from inside the node's process (in-process-app.ts): its port and services. */
export interface InProcessRegistration {
  readonly port: number;
  /** Replaces this app's announced services (as the API's announce does, by name). */
  announce(service: { name: string; attrs?: Record<string, string> }): Promise<void>;
  /** Frees the port and withdraws the services; idempotent. */
  close(): void;
}

const FIRST_AUTO_PORT = 49152;
const LISTEN_BACKLOG = 4096;
/** An incoming stream no app takes within this long is closed with an error to the dialer (tests shorten it). */
const ACCEPT_TIMEOUT_MS = Number(process.env.SKYWIRE_ACCEPT_TIMEOUT_MS) || 10_000;

export class AppApiServer {
  readonly token: string;
  private server: Server | undefined;
  private readonly sessions = new Map<string, AppSession>();
  private readonly byPort = new Map<number, AppSession>();
  private readonly pendingAccepts = new Map<string, { stream: Duplex; session: AppSession; timer: NodeJS.Timeout }>();
  private nextId = 1;

  constructor(
    private readonly host: AppApiHost,
    token?: string,
  ) {
    this.token = token ?? randomBytes(24).toString('hex');
  }

  async listen(host = '127.0.0.1', port = 0): Promise<{ host: string; port: number }> {
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (e) => reject(new Error(`app API cannot listen on ${host}:${port}: ${e.message}`)));
      // Each stream is its own connection: a burst of dials (2,000 SOCKS connections at once) must not overflow
      // the accept queue (the kernel caps it at net.core.somaxconn).
      this.server!.listen({ host, port, backlog: LISTEN_BACKLOG }, resolve);
    });
    const a = this.server.address() as { address: string; port: number };
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) s.control?.destroy();
    for (const p of this.pendingAccepts.values()) p.stream.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  isListening(port: number): boolean {
    return port === ECHO_PORT || this.byPort.has(port);
  }

  apps(): Array<{ name: string; port: number }> {
    return [...this.sessions.values()].map((s) => ({ name: s.name, port: s.port }));
  }

  /** Hands an incoming stream to the app registered on `port`; it connects back to take it. */
  incoming(port: number, remote: { pk: string; port: number }, stream: Duplex): void {
    const session = this.byPort.get(port);
    if (!session) {
      stream.destroy(new AppApiError('refused', `nothing listens on port ${port}`));
      return;
    }
    if (session.deliver) {
      session.deliver(stream, remote);
      return;
    }
    const control = session.control!;
    const id = `s${this.nextId++}`;
    const timer = setTimeout(() => {
      this.pendingAccepts.delete(id);
      stream.destroy(new AppApiError('timeout', `app "${session.name}" did not take the stream within ${ACCEPT_TIMEOUT_MS} ms`));
    }, ACCEPT_TIMEOUT_MS);
    this.pendingAccepts.set(id, { stream, session, timer });
    stream.once('close', () => {
      const p = this.pendingAccepts.get(id);
      if (p) {
        clearTimeout(p.timer);
        this.pendingAccepts.delete(id);
      }
    });
    writeJsonLine(control, { ev: 'incoming', id, remote });
  }

  /**
   * Registers an app running inside the node's process (docs/app-api.md, "Apps inside the node"): it takes
   * `port` as a separate app would (a taken port is refused, `port_taken`), and streams dialed to it go to
   * `deliver`. It has no session id a client of the API could name: no dial or accept over the API acts for it.
   */
  registerInProcess(name: string, wanted: number | undefined, deliver: NonNullable<AppSession['deliver']>): InProcessRegistration {
    const port = this.takePort(wanted);
    const s: AppSession = { id: `in-process:${randomBytes(12).toString('hex')}`, name, port, deliver, services: [] };
    this.sessions.set(s.id, s);
    this.byPort.set(port, s);
    log.info('app registered', { name, port, inProcess: true });
    let closed = false;
    return {
      port,
      announce: async (svc) => {
        if (closed) throw new AppApiError('closed', 'the app is closed');
        await this.setService(s, check.announce({ service: svc }));
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.sessions.delete(s.id);
        if (this.byPort.get(port) === s) this.byPort.delete(port);
        if (s.services.length) void this.host.announce(this.allServices()).catch(() => {});
        log.info('app left', { name, port, inProcess: true });
      },
    };
  }

  /** The port an app asked for if it is free, or the first free one from FIRST_AUTO_PORT; else port_taken. */
  private takePort(wanted: number | undefined): number {
    if (wanted !== undefined) {
      const other = this.byPort.get(wanted);
      if (other) throw new AppApiError('port_taken', `port ${wanted} is already taken by app "${other.name}"`);
      return wanted;
    }
    let port = FIRST_AUTO_PORT;
    while (this.byPort.has(port) && port < 65535) port++;
    if (this.byPort.has(port)) throw new AppApiError('port_taken', 'no free app port left');
    return port;
  }

  private checkToken(t: unknown): boolean {
    if (typeof t !== 'string') return false;
    const a = Buffer.from(t);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async onConnection(sock: Socket): Promise<void> {
    sock.on('error', () => {});
    let req: Record<string, unknown>;
    try {
      req = await readJsonLine(sock);
    } catch (err) {
      this.fail(sock, 'bad_request', (err as Error).message);
      return;
    }
    if (!this.checkToken(req.token)) {
      this.fail(sock, 'unauthorized', 'wrong or missing app API token');
      return;
    }
    try {
      switch (check.op(req)) {
        case 'hello':
          return this.onHello(sock, req);
        case 'dial':
          return await this.onDial(sock, req);
        case 'accept':
          return this.onAccept(sock, req);
        case 'status':
          writeJsonLine(sock, { ok: true, status: this.host.status() });
          sock.end();
          return;
        case 'transports': {
          const { action, pk } = check.transports(req);
          writeJsonLine(sock, { ok: true, ...(await this.host.transportsCmd(action, pk)) });
          sock.end();
          return;
        }
        case 'metering': {
          const r = checkMeteringRequest(req);
          if (!this.host.metering) return this.fail(sock, 'metering_off', 'this node does not meter');
          // A statement can be far longer than a line may be: the answer follows the line, up to the end.
          const body = Buffer.from(JSON.stringify(await this.host.metering(r)));
          writeJsonLine(sock, { ok: true, bytes: body.length });
          sock.end(body);
          return;
        }
        default:
          this.fail(sock, 'bad_request', `unknown op ${JSON.stringify(req.op)}`);
      }
    } catch (err) {
      const e = err as AppApiError;
      this.fail(sock, e.code ?? 'error', e.message);
    }
  }

  private fail(sock: Socket, code: string, error: string): void {
    writeJsonLine(sock, { ok: false, code, error });
    sock.end();
  }

  private onHello(sock: Socket, req: Record<string, unknown>): void {
    const { name, port: wanted } = check.hello(req);
    const port = this.takePort(wanted);
    const s: AppSession & { control: Socket } = { id: randomBytes(12).toString('hex'), name, port, control: sock, services: [] };
    this.sessions.set(s.id, s);
    this.byPort.set(port, s);
    log.info('app registered', { name, port });
    writeJsonLine(sock, { ok: true, pk: this.host.pkHex, port, session: s.id });
    onLines(sock, (line) => void this.onControl(s, line));
    sock.on('end', () => sock.end());
    sock.on('close', () => {
      this.sessions.delete(s.id);
      if (this.byPort.get(port) === s) this.byPort.delete(port);
      if (s.services.length) void this.host.announce(this.allServices()).catch(() => {});
      log.info('app left', { name, port });
    });
    sock.resume();
  }

  private allServices(): Array<{ name: string; port: number; attrs?: Record<string, string> }> {
    return [...this.sessions.values()].flatMap((x) => x.services);
  }

  /** Adds or replaces (by name) one of an app's services and announces them all. */
  private async setService(s: AppSession, svc: { name: string; attrs?: Record<string, string> }): Promise<void> {
    const others = s.services.filter((x) => x.name !== svc.name);
    if (others.length >= MAX_SERVICES_PER_APP) throw new AppApiError('bad_request', `an app announces at most ${MAX_SERVICES_PER_APP} services`);
    s.services = [...others, { name: svc.name, port: s.port, ...(svc.attrs ? { attrs: svc.attrs } : {}) }];
    await this.host.announce(this.allServices());
  }

  private async onControl(s: AppSession & { control: Socket }, line: string): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      writeJsonLine(s.control, { ok: false, code: 'bad_request', error: 'not a JSON line' });
      return;
    }
    if (!check.isObject(parsed)) {
      writeJsonLine(s.control, { ok: false, code: 'bad_request', error: 'expected a JSON object' });
      return;
    }
    const req = parsed;
    const id = check.reqId(req);
    const reply = (r: Record<string, unknown>) => writeJsonLine(s.control, { ...(id === undefined ? {} : { req: id }), ...r });
    try {
      if (id === undefined) throw new AppApiError('bad_request', 'req must be an integer or a short string');
      const o = check.op(req);
      if (o === 'announce') {
        await this.setService(s, check.announce(req));
        reply({ ok: true });
      } else if (o === 'query') {
        reply({ ok: true, results: await this.host.query(check.query(req)) });
      } else {
        throw new AppApiError('bad_request', `unknown op ${JSON.stringify(o).slice(0, 80)}`);
      }
    } catch (err) {
      const e = err as AppApiError;
      reply({ ok: false, code: e.code ?? 'error', error: e.message });
    }
  }

  private session(req: Record<string, unknown>): AppSession {
    const s = this.sessions.get(check.session(req));
    // An in-process app's session is not the API's to use, whatever id a client sends.
    if (!s || !s.control) throw new AppApiError('not_registered', 'register the app (name and port) before dialing or accepting');
    return s;
  }

  private async onDial(sock: Socket, req: Record<string, unknown>): Promise<void> {
    const d = check.dial(req);
    const s = this.session(req);
    const { pk, port } = d;
    const stream = await this.host.dial(s.port, pk, port, { minHops: d.minHops, maxHops: d.maxHops, gone: () => sock.destroyed || sock.readableEnded });
    if (sock.destroyed) {
      stream.destroy();
      return;
    }
    writeJsonLine(sock, { ok: true, remote: { pk, port } });
    joinStreams(sock, stream);
    sock.resume();
  }

  private onAccept(sock: Socket, req: Record<string, unknown>): void {
    const id = check.acceptId(req);
    const s = this.session(req);
    const p = this.pendingAccepts.get(id);
    if (!p || p.session !== s) throw new AppApiError('unknown_stream', `no incoming stream ${JSON.stringify(id)} for this app`);
    clearTimeout(p.timer);
    this.pendingAccepts.delete(id);
    writeJsonLine(sock, { ok: true });
    joinStreams(sock, p.stream);
    sock.resume();
  }
}
