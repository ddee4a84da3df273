// The app SDK: how an app talks to its node (docs/app-api.md). One control connection registers the app's
// name and port; every stream, dialed or accepted, is its own local socket, so app code stays socket code.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Backoff } from '../../util/backoff.js';
import { onLines, readJsonLine, writeJsonLine } from './protocol.js';
import { AppApiError } from './errors.js';
import type { DialOptions, MeshApp, RemoteInfo, ServiceEntry } from './mesh-app.js';

export { AppApiError } from './errors.js';

export interface AppClientOptions {
  /** host:port of the node's app API; default SKYWIRE_APP_API, else the api file. */
  api?: string;
  /** Default SKYWIRE_APP_TOKEN, else the api file. */
  token?: string;
  /** A JSON file {"api","token"} the node writes (mode 0600); default SKYWIRE_APP_API_FILE. */
  apiFile?: string;
  name: string;
  /** The port this app listens on at its node; omitted = a free one chosen by the node. */
  port?: number;
  /**
   * How long `connect` waits for a node that is not up yet: an api file that does not exist (or is still
   * being written), or an API that refuses connections. Default SKYWIRE_APP_WAIT_MS, else 15000 ms; 0 = fail
   * at once.
   */
  waitMs?: number;
}

/** How long a dial waits for the node's answer (the node's queue wait bound plus one setup's timeouts, and slack). */
const DIAL_REPLY_MS = 150_000;

/** Default bound on how long `AppClient.connect` waits for its node to come up. */
export const DEFAULT_CONNECT_WAIT_MS = 15_000;

/** Resolves the node API address and token from options, environment or the node's api file. */
export function resolveApi(o: { api?: string; token?: string; apiFile?: string }): { api: string; token: string } {
  let api = o.api ?? process.env.SKYWIRE_APP_API;
  let token = o.token ?? process.env.SKYWIRE_APP_TOKEN;
  const file = o.apiFile ?? process.env.SKYWIRE_APP_API_FILE;
  if ((!api || !token) && file) {
    let j: unknown;
    try {
      j = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new AppApiError('bad_config', `cannot read node API file ${file}: ${(err as Error).message}`, { cause: err });
    }
    // Checked for shape: whatever wrote the file, a wrong one is a clear error, never a TypeError.
    if (typeof j !== 'object' || j === null || Array.isArray(j)) {
      throw new AppApiError('bad_config', `node API file ${file} is not a JSON object with "api" and "token"`);
    }
    const f = j as Record<string, unknown>;
    if (f.api !== undefined && typeof f.api !== 'string') throw new AppApiError('bad_config', `node API file ${file}: "api" must be a string (HOST:PORT)`);
    if (f.token !== undefined && typeof f.token !== 'string') throw new AppApiError('bad_config', `node API file ${file}: "token" must be a string`);
    api ??= f.api;
    token ??= f.token;
  }
  if (!api) throw new AppApiError('bad_config', 'node API address missing: pass api, or set SKYWIRE_APP_API or SKYWIRE_APP_API_FILE');
  if (!token) throw new AppApiError('bad_config', 'node API token missing: pass token, or set SKYWIRE_APP_TOKEN or SKYWIRE_APP_API_FILE');
  return { api, token };
}

function splitHostPort(api: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(api.trim());
  if (!m) throw new AppApiError('bad_config', `node API address "${api}" is not HOST:PORT`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

/** Opens a connection to the node API and sends the first request line; resolves with the reply line. */
export async function apiRequest(api: string, req: Record<string, unknown>, timeoutMs = 30_000): Promise<{ sock: Socket; reply: Record<string, unknown> }> {
  const { host, port } = splitHostPort(api);
  const sock = connect({ host, port, allowHalfOpen: true, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', (e) => reject(new AppApiError('no_node', `cannot reach the node API at ${api}: ${e.message}`, { cause: e })));
  });
  writeJsonLine(sock, req);
  let reply: Record<string, unknown>;
  try {
    reply = await readJsonLine(sock, timeoutMs);
  } catch (err) {
    sock.destroy();
    throw new AppApiError('no_node', `node API at ${api}: ${(err as Error).message}`);
  }
  if (!reply.ok) {
    sock.destroy();
    throw new AppApiError(String(reply.code ?? 'error'), String(reply.error ?? 'request failed'));
  }
  return { sock, reply };
}

/** A failure a node that is still starting explains: its api file missing or half written, its API not listening yet. */
function notUpYet(err: unknown): 'file' | 'api' | undefined {
  if (!(err instanceof AppApiError)) return undefined;
  const cause = err.cause as NodeJS.ErrnoException | undefined;
  if (err.code === 'bad_config' && (cause?.code === 'ENOENT' || cause instanceof SyntaxError)) return 'file';
  if (err.code === 'no_node' && cause?.code === 'ECONNREFUSED') return 'api';
  return undefined;
}

/** Resolves after `ms`, or sooner when `file` is created or changed (the timer covers a missed event). */
function pause(ms: number, file?: string): Promise<void> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    const done = () => {
      clearTimeout(timer);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (!file) return;
    try {
      watcher = watch(dirname(file), (_ev, name) => {
        if (!name || name.toString() === basename(file)) done();
      });
      watcher.on('error', () => {});
    } catch {
      /* no such directory (yet), or no watch support here: the timer alone */
    }
  });
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** The one-line error once the wait for a starting node is over. */
function gaveUp(err: AppApiError, what: 'file' | 'api', waitMs: number, file: string | undefined, api: string | undefined): AppApiError {
  if (what === 'file') {
    const cause = err.cause as NodeJS.ErrnoException;
    const msg =
      cause.code === 'ENOENT'
        ? `node API file ${file} did not appear within ${seconds(waitMs)}: is the node running, with this --api-file?`
        : `node API file ${file} is still not valid JSON after ${seconds(waitMs)}: ${cause.message}`;
    return new AppApiError('bad_config', msg, { cause });
  }
  return new AppApiError(
    'no_node',
    `the node API at ${api} refused connections for ${seconds(waitMs)}: is the node running?`,
    { cause: err.cause },
  );
}

export type IncomingHandler = (sock: Socket, remote: RemoteInfo) => void;

/**
 * One app's registration with its node. Emits 'close' once its control connection to the node is gone:
 * with an `AppApiError` (code 'closed') when that was not `close()` (the node stopped or restarted), with no
 * argument after `close()`. The registration, its port and its announcements end with it.
 */
export class AppClient extends EventEmitter implements MeshApp<Socket> {
  readonly localPk: string;
  readonly port: number;
  private onConn: IncomingHandler | undefined;
  private readonly queued: Array<{ id: string; remote: { pk: string; port: number } }> = [];
  private nextReq = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private closed = false;
  private closing = false;

  private constructor(
    private readonly api: string,
    private readonly token: string,
    private readonly session: string,
    private readonly control: Socket,
    reply: Record<string, unknown>,
  ) {
    super();
    this.localPk = String(reply.pk);
    this.port = Number(reply.port);
    onLines(control, (line) => {
      let m: unknown;
      try {
        m = JSON.parse(line);
      } catch {
        return; // a garbled line from the node is ignored
      }
      this.onLine(m);
    });
    let lastError: Error | undefined;
    control.on('error', (e) => (lastError = e));
    // The socket is half-open capable (apiRequest): the node ending its side ends the registration.
    control.on('end', () => control.destroy());
    control.on('close', () => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new AppApiError('closed', 'connection to the node closed'));
      this.pending.clear();
      if (this.closing) this.emit('close');
      else {
        const why = lastError ? `: ${lastError.message}` : '';
        this.emit('close', new AppApiError('closed', `lost the connection to the node API at ${api}${why}`, { cause: lastError }));
      }
    });
    control.resume();
  }

  /**
   * Registers the app with its node. A node that is still starting (api file not there yet, API refusing
   * connections) is waited for, up to `waitMs` (default SKYWIRE_APP_WAIT_MS, else 15 s); then this fails
   * with one line saying why.
   */
  static async connect(o: AppClientOptions): Promise<AppClient> {
    const fromEnv = process.env.SKYWIRE_APP_WAIT_MS;
    const waitMs = o.waitMs ?? (fromEnv && /^\d+$/.test(fromEnv) ? Number(fromEnv) : DEFAULT_CONNECT_WAIT_MS);
    const deadline = Date.now() + waitMs;
    const backoff = new Backoff({ initialMs: 50, maxMs: 1000, jitter: 0.2 });
    const file = o.apiFile ?? process.env.SKYWIRE_APP_API_FILE;
    for (;;) {
      let api: string | undefined;
      try {
        const r = resolveApi(o);
        api = r.api;
        const { sock, reply } = await apiRequest(r.api, { op: 'hello', token: r.token, name: o.name, port: o.port });
        return new AppClient(r.api, r.token, String(reply.session), sock, reply);
      } catch (err) {
        const what = notUpYet(err);
        if (!what || waitMs <= 0) throw err;
        const left = deadline - Date.now();
        if (left <= 0) throw gaveUp(err as AppApiError, what, waitMs, file, api);
        await pause(Math.min(left, backoff.next()), what === 'file' ? file : undefined);
      }
    }
  }

  /** Streams dialed to this app's port arrive here, each as its own socket. */
  listen(onConn: IncomingHandler): void {
    this.onConn = onConn;
    for (const q of this.queued.splice(0)) this.take(q.id, q.remote);
  }

  /** Opens a stream to the app on `port` at node `pk`, over a route chosen by the node manager. */
  async dial(pk: string, port: number, o: DialOptions = {}): Promise<Socket> {
    if (this.closed) throw new AppApiError('closed', 'the app client is closed');
    // A dial may wait its turn in the node's bounded setup queue (a burst of dials): the node bounds that wait
    // and each setup, and refuses clearly ("busy") past them, so the SDK waits longer than for other requests.
    const { sock } = await apiRequest(this.api, {
      op: 'dial',
      token: this.token,
      session: this.session,
      pk,
      port,
      minHops: o.minHops,
      maxHops: o.maxHops,
    }, DIAL_REPLY_MS);
    return sock;
  }

  async announce(service: { name: string; attrs?: Record<string, string> }): Promise<void> {
    await this.request({ op: 'announce', service });
  }

  async query(service: string): Promise<ServiceEntry[]> {
    const r = await this.request({ op: 'query', service });
    if (!Array.isArray(r.results)) throw new AppApiError('error', 'the node answered a query without a results list');
    return r.results as ServiceEntry[];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    await new Promise<void>((resolve) => {
      this.control.once('close', () => resolve());
      this.control.end();
      setTimeout(() => {
        this.control.destroy();
        resolve();
      }, 1000).unref();
    });
  }

  private request(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new AppApiError('closed', 'the app client is closed'));
    const id = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      writeJsonLine(this.control, { ...req, req: id });
    });
  }

  private onLine(m: unknown): void {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return;
    const line = m as Record<string, unknown>;
    if (line.ev === 'incoming') {
      const r = line.remote as { pk?: unknown; port?: unknown } | null;
      if (typeof line.id !== 'string' || typeof r !== 'object' || !r || typeof r.pk !== 'string' || typeof r.port !== 'number') return;
      const remote = { pk: r.pk, port: r.port };
      if (this.onConn) this.take(line.id, remote);
      else this.queued.push({ id: line.id, remote });
      return;
    }
    this.onReply(line);
  }

  private onReply(m: Record<string, unknown>): void {
    const p = this.pending.get(Number(m.req));
    if (!p) return;
    this.pending.delete(Number(m.req));
    if (m.ok) p.resolve(m);
    else p.reject(new AppApiError(String(m.code ?? 'error'), String(m.error ?? 'request failed')));
  }

  private take(id: string, remote: { pk: string; port: number }): void {
    apiRequest(this.api, { op: 'accept', token: this.token, session: this.session, id }).then(
      ({ sock }) => {
        this.onConn?.(sock, remote);
      },
      () => {
        /* the stream went away before we took it */
      },
    );
  }
}
