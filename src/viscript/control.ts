// The control socket lets `viscript -c "<command>"` talk to a running Viscript. It listens on loopback only;
// its address and a random token are in <state dir>/control.json (mode 0600), so only users who can read that
// file can send commands. One connection = one command: a JSON line {"token","line"} in, JSON lines out
// (render.ts), then the server ends the connection (unless the command follows output, e.g. `logs 2 -f`).
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger } from '../util/log.js';
import type { Engine } from './engine.js';
import { jsonSink } from './render.js';
import { ShellSession } from './session.js';

export const CONTROL_FILE = 'control.json';
const MAX_REQUEST = 64 * 1024;

export interface ControlInfo {
  host: string;
  port: number;
  token: string;
  pid: number;
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
    try {
      const current = JSON.parse(readFileSync(this.file, 'utf8')) as ControlInfo;
      if (current.token === this.token) rmSync(this.file, { force: true });
    } catch {
      // already gone
    }
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
      if (nl < 0) {
        if (buf.length > MAX_REQUEST) sock.destroy();
        return;
      }
      sock.off('data', onData);
      clearTimeout(timer);
      const reply = (o: unknown) => sock.write(JSON.stringify(o) + '\n');
      let req: { token?: unknown; line?: unknown };
      try {
        req = JSON.parse(buf.slice(0, nl)) as typeof req;
      } catch {
        reply({ type: 'result', ok: false, command: '', text: 'control: the request is not JSON' });
        sock.end();
        return;
      }
      if (typeof req.token !== 'string' || !sameSecret(req.token, this.token)) {
        this.log.warn('control request with a wrong token', { remote: sock.remoteAddress });
        reply({ type: 'result', ok: false, command: '', text: 'control: wrong token (is control.json from this Viscript?)' });
        sock.end();
        return;
      }
      if (typeof req.line !== 'string') {
        reply({ type: 'result', ok: false, command: '', text: 'control: the request has no "line"' });
        sock.end();
        return;
      }
      session = new ShellSession(this.engine, jsonSink(sock), { interactive: false });
      const s = session;
      // Following output ends when the client goes away.
      sock.on('data', () => undefined);
      void s.submit(req.line).then((r) => {
        if (!r) reply({ type: 'result', ok: false, command: '', text: 'empty command (try "help")' });
        if (!s.isFollowing) sock.end();
      });
    };
    sock.on('data', onData);
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
  try {
    const o = JSON.parse(text) as ControlInfo;
    if (typeof o.host !== 'string' || typeof o.port !== 'number' || typeof o.token !== 'string') throw new Error('fields');
    return o;
  } catch {
    throw new Error(`${file} is damaged; remove it and restart Viscript`);
  }
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

/**
 * Sends one command line and calls `onMessage` for every message until the server ends the connection.
 * Resolves true when the command's result was ok.
 */
export async function sendControlCommand(
  info: ControlInfo,
  line: string,
  onMessage: (m: ControlMessage) => void,
): Promise<boolean> {
  const sock = await connectControl(info);
  sock.write(JSON.stringify({ token: info.token, line }) + '\n');
  let ok: boolean | undefined;
  const rl = createInterface({ input: sock, crlfDelay: Infinity });
  for await (const text of rl) {
    if (!text.trim()) continue;
    let m: ControlMessage;
    try {
      m = JSON.parse(text) as ControlMessage;
    } catch {
      continue;
    }
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
