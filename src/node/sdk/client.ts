// The app SDK: how an app talks to its node (docs/app-api.md). One control connection registers the app's
// name and port; every stream, dialed or accepted, is its own local socket, so app code stays socket code.
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { readJsonLine, writeJsonLine } from './protocol.js';

export class AppApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AppApiError';
  }
}

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
}

/** Resolves the node API address and token from options, environment or the node's api file. */
export function resolveApi(o: { api?: string; token?: string; apiFile?: string }): { api: string; token: string } {
  let api = o.api ?? process.env.SKYWIRE_APP_API;
  let token = o.token ?? process.env.SKYWIRE_APP_TOKEN;
  const file = o.apiFile ?? process.env.SKYWIRE_APP_API_FILE;
  if ((!api || !token) && file) {
    let j: { api?: string; token?: string };
    try {
      j = JSON.parse(readFileSync(file, 'utf8')) as { api?: string; token?: string };
    } catch (err) {
      throw new AppApiError('bad_config', `cannot read node API file ${file}: ${(err as Error).message}`);
    }
    api ??= j.api;
    token ??= j.token;
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
    sock.once('error', (e) => reject(new AppApiError('no_node', `cannot reach the node API at ${api}: ${e.message}`)));
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

export type IncomingHandler = (sock: Socket, remote: { pk: string; port: number }) => void;

export class AppClient {
  readonly localPk: string;
  readonly port: number;
  private onConn: IncomingHandler | undefined;
  private readonly queued: Array<{ id: string; remote: { pk: string; port: number } }> = [];
  private nextReq = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private closed = false;

  private constructor(
    private readonly api: string,
    private readonly token: string,
    private readonly session: string,
    private readonly control: Socket,
    reply: Record<string, unknown>,
  ) {
    this.localPk = String(reply.pk);
    this.port = Number(reply.port);
    control.setEncoding('utf8');
    let buf = '';
    control.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.onLine(JSON.parse(line) as Record<string, unknown>);
        } catch {
          /* a garbled line from the node is ignored */
        }
      }
    });
    control.on('error', () => {});
    control.on('close', () => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new AppApiError('closed', 'connection to the node closed'));
      this.pending.clear();
    });
    control.resume();
  }

  /** Registers the app with its node. */
  static async connect(o: AppClientOptions): Promise<AppClient> {
    const { api, token } = resolveApi(o);
    const { sock, reply } = await apiRequest(api, { op: 'hello', token, name: o.name, port: o.port });
    return new AppClient(api, token, String(reply.session), sock, reply);
  }

  /** Streams dialed to this app's port arrive here, each as its own socket. */
  listen(onConn: IncomingHandler): void {
    this.onConn = onConn;
    for (const q of this.queued.splice(0)) this.take(q.id, q.remote);
  }

  /** Opens a stream to the app on `port` at node `pk`, over a route chosen by the node manager. */
  async dial(pk: string, port: number, o: { minHops?: number; maxHops?: number } = {}): Promise<Socket> {
    if (this.closed) throw new AppApiError('closed', 'the app client is closed');
    const { sock } = await apiRequest(this.api, {
      op: 'dial',
      token: this.token,
      session: this.session,
      pk,
      port,
      minHops: o.minHops,
      maxHops: o.maxHops,
    });
    return sock;
  }

  async announce(service: { name: string; attrs?: Record<string, string> }): Promise<void> {
    await this.request({ op: 'announce', service });
  }

  async query(service: string): Promise<Array<{ pk: string; port: number; attrs?: Record<string, string> }>> {
    const r = await this.request({ op: 'query', service });
    return r.results as Array<{ pk: string; port: number; attrs?: Record<string, string> }>;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
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

  private onLine(m: Record<string, unknown>): void {
    if (m.ev === 'incoming') {
      const remote = m.remote as { pk: string; port: number };
      if (this.onConn) this.take(String(m.id), remote);
      else this.queued.push({ id: String(m.id), remote });
      return;
    }
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
