// The control socket lets `viscript -c "<command>"` talk to a running Viscript. It listens on loopback only;
// its address and a random token are in <state dir>/control.json (mode 0600), so only users who can read that
// file can send commands. One connection = one command: a JSON line {"token","line"} in, JSON lines out
// (render.ts), then the server ends the connection (unless the command follows output, e.g. `logs 2 -f`).
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { createLogger } from '../util/log.js';
import type { Engine } from './engine.js';
import { jsonSink } from './render.js';
import { ShellSession } from './session.js';

export const CONTROL_FILE = 'control.json';
const MAX_REQUEST = 64 * 1024;

const controlInfoSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  token: z.string().min(1),
  pid: z.number().int().positive(),
});
export type ControlInfo = z.infer<typeof controlInfoSchema>;

/**
 * A control request, or the one-line reason it is refused. Anyone on loopback can send one, so nothing about
 * its shape is assumed. `line` is checked only after the token, so a stranger learns nothing more.
 */
export function parseControlRequest(text: string): { token: string; line: unknown; columns?: number } | { error: string } {
  let req: unknown;
  try {
    req = JSON.parse(text);
  } catch {
    return { error: 'control: the request is not JSON' };
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    return { error: 'control: the request must be a JSON object {"token","line"}' };
  }
  const { token, line, columns } = req as Record<string, unknown>;
  if (typeof token !== 'string') return { error: 'control: "token" must be a string' };
  // Optional: the client's terminal width (`la` fits its rows to it); anything else is ignored.
  const width = typeof columns === 'number' && Number.isInteger(columns) && columns >= 20 && columns <= 1000 ? columns : undefined;
  return { token, line, ...(width ? { columns: width } : {}) };
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

export class ControlServer {
  private readonly sockets = new Set<Socket>();
  private readonly log = createLogger('viscript.control');

  private constructor(
    private readonly server: Server,
    private readonly engine: Engine,
    readonly file: string,
    private readonly token: string,
  ) {}

  static async start(engine: Engine, stateDir: string): Promise<ControlServer> {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const token = randomBytes(32).toString('hex');
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    const addr = server.address() as { address: string; port: number };
    const file = join(stateDir, CONTROL_FILE);
    const info: ControlInfo = { host: addr.address, port: addr.port, token, pid: process.pid };
    writeFileSync(file, JSON.stringify(info) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600); // the mode of writeFileSync applies only when it creates the file
    const cs = new ControlServer(server, engine, file, token);
    server.on('connection', (s) => cs.onConnection(s));
    return cs;
  }

  async close(): Promise<void> {
    // Only our own file: a newer Viscript on the same state dir may have replaced it.
    const current = controlInfoSchema.safeParse(readJson(this.file));
    if (current.success && current.data.token === this.token) rmSync(this.file, { force: true });
    // Let answers already written (e.g. to `quit`) reach their clients, but do not wait on followers.
    for (const s of this.sockets) {
      s.end();
      setTimeout(() => s.destroy(), 500).unref();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(sock: Socket): void {
    this.sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('error', () => undefined);
    const timer = setTimeout(() => sock.destroy(), 10_000); // a request must come promptly
    let buf = '';
    let session: ShellSession | undefined;
    sock.on('close', () => {
      clearTimeout(timer);
      this.sockets.delete(sock);
      session?.close();
    });
    sock.setEncoding('utf8');
    const onData = (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0 ? buf.length > MAX_REQUEST : nl > MAX_REQUEST) {
        sock.destroy(); // a request that large is no request: no answer, nothing kept
        return;
      }
      if (nl < 0) return;
      sock.off('data', onData);
      clearTimeout(timer);
      const reply = (o: unknown) => sock.write(JSON.stringify(o) + '\n');
      const refuse = (text: string) => {
        reply({ type: 'result', ok: false, command: '', text });
        sock.end();
      };
      const req = parseControlRequest(buf.slice(0, nl));
      buf = '';
      if ('error' in req) return refuse(req.error);
      if (!sameSecret(req.token, this.token)) {
        this.log.warn('control request with a wrong token', { remote: sock.remoteAddress });
        return refuse('control: wrong token (is control.json from this Viscript?)');
      }
      const line = req.line;
      if (typeof line !== 'string') return refuse('control: "line" must be a string');
      session = new ShellSession(this.engine, jsonSink(sock), { interactive: false, columns: req.columns });
      const s = session;
      // Following output ends when the client goes away.
      sock.on('data', () => undefined);
      void s.submit(line).then((r) => {
        if (!r) reply({ type: 'result', ok: false, command: '', text: 'empty command (try "help")' });
        if (!s.isFollowing) sock.end();
      });
    };
    sock.on('data', onData);
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function readControlInfo(stateDir: string): ControlInfo {
  const file = join(stateDir, CONTROL_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no running Viscript found: ${file} does not exist (start one, or pass --state-dir / --config)`);
  }
  let parsed: ReturnType<typeof controlInfoSchema.safeParse> | undefined;
  try {
    parsed = controlInfoSchema.safeParse(JSON.parse(text));
  } catch {
    // not JSON: reported below
  }
  if (!parsed?.success) {
    const why = parsed ? parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`)[0] : 'not JSON';
    throw new Error(`${file} is damaged (${why}); remove it and restart Viscript`);
  }
  return parsed.data;
}

/** Connects to the control socket; rejects with a one-line reason when nobody answers. */
export function connectControl(info: ControlInfo, timeoutMs = 3000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: info.host, port: info.port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`Viscript (pid ${info.pid}) does not answer on ${info.host}:${info.port}`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          err.code === 'ECONNREFUSED'
            ? `no running Viscript: nothing listens on ${info.host}:${info.port} (a stale control.json from pid ${info.pid}?)`
            : `cannot reach Viscript: ${err.message}`,
        ),
      );
    });
  });
}

export interface ControlMessage {
  type: 'result' | 'output' | 'event' | 'info';
  ok?: boolean;
  text?: string;
  [k: string]: unknown;
}

const MESSAGE_TYPES = new Set(['result', 'output', 'event', 'info']);
function isControlMessage(m: unknown): m is ControlMessage {
  return typeof m === 'object' && m !== null && MESSAGE_TYPES.has((m as { type?: unknown }).type as string);
}

/**
 * Sends one command line and calls `onMessage` for every message until the server ends the connection.
 * Resolves true when the command's result was ok.
 */
export async function sendControlCommand(
  info: ControlInfo,
  line: string,
  onMessage: (m: ControlMessage) => void,
  columns?: number,
): Promise<boolean> {
  const sock = await connectControl(info);
  sock.write(JSON.stringify({ token: info.token, line, ...(columns ? { columns } : {}) }) + '\n');
  let ok: boolean | undefined;
  const rl = createInterface({ input: sock, crlfDelay: Infinity });
  for await (const text of rl) {
    if (!text.trim()) continue;
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      continue;
    }
    if (!isControlMessage(m)) continue;
    if (m.type === 'result' && ok === undefined) ok = m.ok === true;
    onMessage(m);
  }
  if (ok === undefined) throw new Error('Viscript closed the connection without an answer');
  return ok;
}

/** True when another Viscript answers on the control socket recorded in `stateDir`. */
export async function isRunning(stateDir: string): Promise<ControlInfo | undefined> {
  let info: ControlInfo;
  try {
    info = readControlInfo(stateDir);
  } catch {
    return undefined;
  }
  try {
    const s = await connectControl(info, 1000);
    s.destroy();
    return info;
  } catch {
    return undefined;
  }
}
