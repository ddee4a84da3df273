// A small HTTP + websocket server shared by the browser GUIs (chat, dashboard, Viscript desktop).
// Access is by a one-time token, like a notebook server: the URL printed at start carries `?token=`,
// the first request trades it for an HttpOnly cookie and redirects to the bare page. Any request, HTTP
// or websocket, without the token (in the query or the cookie) gets 401. Loopback by default.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import { createLogger } from './log.js';
import { formatHostPort } from './hostport.js';

const log = createLogger('gui-server');
/** Bytes queued for one browser beyond which messages to it are dropped (it resyncs on reconnect). */
const MAX_QUEUED = 8 * 1024 * 1024;

/** One browser connection. */
export interface GuiClient {
  /** Queues `msg`; false when it was dropped (the socket is not open, or more than 8 MiB wait for it). */
  send(msg: unknown): boolean;
  close(): void;
  onMessage(fn: (msg: unknown) => void): void;
  onClose(fn: () => void): void;
}

export interface GuiServerOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0 (ephemeral)
  /** The page served at "/", relative to the web build directory, e.g. "chat/index.html". */
  page: string;
  /** The built front ends; default: web-dist/ at the repository root, or $SKYWIRE_WEB_DIST. */
  webRoot?: string;
  token?: string;
  /** Largest websocket message accepted (bytes); a larger one closes that socket with 1009. */
  maxMessageBytes?: number;
  onClient(client: GuiClient): void;
  /** Extra GET routes (after the token check), e.g. a JSON snapshot; return false to fall through. */
  route?(path: string, res: ServerResponse): boolean;
}

export interface GuiServer {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** The URL to open, with the token. */
  readonly url: string;
  broadcast(msg: unknown): void;
  /** Browsers connected right now (a GUI may skip work nobody would see). */
  connections(): number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

// Pages may only load their own files; nothing inline, nothing remote.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** web-dist/ at the repository root: the nearest ancestor of this module that holds package.json. */
export function defaultWebRoot(): string {
  if (process.env.SKYWIRE_WEB_DIST) return resolve(process.env.SKYWIRE_WEB_DIST);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'web-dist');
    const up = dirname(dir);
    if (up === dir) return join(process.cwd(), 'web-dist');
    dir = up;
  }
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startGuiServer(o: GuiServerOptions): Promise<GuiServer> {
  const token = o.token ?? randomBytes(24).toString('base64url');
  const webRoot = resolve(o.webRoot ?? defaultWebRoot());
  const maxMessageBytes = o.maxMessageBytes ?? 256 * 1024;
  // Cookies are shared by every port of a host, so the name carries the port (set once listening).
  let cookieName = 'skywire_gui';

  const authorised = (req: IncomingMessage, url: URL): 'query' | 'cookie' | false => {
    if (sameToken(url.searchParams.get('token'), token)) return 'query';
    if (sameToken(cookieValue(req.headers.cookie, cookieName), token)) return 'cookie';
    return false;
  };

  const serveFile = (res: ServerResponse, file: string, head: boolean) => {
    const body = readFileSync(file);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': CSP,
    });
    res.end(head ? undefined : body);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const how = authorised(req, url);
    if (!how) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('401 Unauthorized: open the URL with ?token= printed when the server started\n');
      return;
    }
    if (how === 'query' && req.method === 'GET' && url.pathname === '/') {
      // Trade the token for a cookie and drop it from the address bar and history.
      url.searchParams.delete('token');
      res.writeHead(303, {
        'set-cookie': `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        location: url.pathname + url.search,
      });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (o.route?.(url.pathname, res)) return;
    let rel: string;
    try {
      rel = url.pathname === '/' ? o.page : decodeURIComponent(url.pathname).replace(/^\/+/, '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = normalize(join(webRoot, rel));
    if (!file.startsWith(webRoot + sep)) {
      res.writeHead(403).end();
      return;
    }
    if (!existsSync(file) || !statSync(file).isFile()) {
      const built = existsSync(join(webRoot, o.page));
      res.writeHead(built ? 404 : 503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(built ? '404 Not Found\n' : `the web front ends are not built (${webRoot}): run "npm run build"\n`);
      return;
    }
    serveFile(res, file, req.method === 'HEAD');
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });
  const clients = new Set<WebSocket>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // A page of another origin (even another port of this host) must not ride on the cookie.
    const origin = req.headers.origin;
    const originOk = !origin || origin === `http://${req.headers.host}`;
    if (!authorised(req, url) || !originOk) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      const messageHandlers: Array<(m: unknown) => void> = [];
      const closeHandlers: Array<() => void> = [];
      ws.on('message', (data, isBinary) => {
        if (isBinary) return void client.send({ type: 'error', message: 'binary messages are not accepted' });
        let msg: unknown;
        try {
          msg = JSON.parse(data.toString());
        } catch {
          return void client.send({ type: 'error', message: 'malformed message: not JSON' });
        }
        // Every GUI speaks in objects; null, a list or a bare value never reaches a handler.
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
          return void client.send({ type: 'error', message: 'malformed message: not a JSON object' });
        }
        for (const h of messageHandlers) {
          try {
            h(msg);
          } catch (err) {
            client.send({ type: 'error', message: (err as Error).message });
          }
        }
      });
      ws.on('error', (err) => log.debug('websocket error', { err }));
      ws.on('close', () => {
        clients.delete(ws);
        for (const h of closeHandlers) h();
      });
      const client: GuiClient = {
        send(msg) {
          // A browser that stopped reading must not make the server buffer without bound.
          if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount >= MAX_QUEUED) return false;
          ws.send(JSON.stringify(msg));
          return true;
        },
        close: () => ws.close(),
        onMessage: (fn) => void messageHandlers.push(fn),
        onClose: (fn) => void closeHandlers.push(fn),
      };
      o.onClient(client);
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('gui server has no TCP address');
  const host = o.host ?? '127.0.0.1';
  cookieName = `skywire_gui_${addr.port}`;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${formatHostPort({ host: shownHost, port: addr.port })}/?token=${token}`;
  log.info('gui listening', { host, port: addr.port, page: o.page });

  return {
    host,
    port: addr.port,
    token,
    url,
    broadcast(msg) {
      const text = JSON.stringify(msg);
      for (const ws of clients) if (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < MAX_QUEUED) ws.send(text);
    },
    connections: () => clients.size,
    async close() {
      for (const ws of clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
