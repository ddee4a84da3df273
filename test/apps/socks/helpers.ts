// Shared test rig: a socks-client and a socks-exit joined by real loopback TCP in place of the mesh
// (the "dial" is a plain TCP connect to a listener that hands each connection to the exit), plus
// HTTP targets and raw-socket helpers.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import {
  AddressPolicy,
  parseCidr,
  SocksClient,
  SocksExit,
  type SocksClientOptions,
  type SocksExitOptions,
} from '../../../src/apps/socks/index.js';

export const LOOPBACK_ALLOW = ['127.0.0.0/8', '::1/128'];

export interface Rig {
  client: SocksClient;
  exit: SocksExit;
  socksPort: number;
  meshPort: number;
}

/** Starts an exit behind a loopback "mesh" listener and a socks-client dialing it; closed after the test. */
export async function startRig(
  t: TestContext,
  o: { exit?: SocksExitOptions; allow?: string[]; pk?: string; client?: Partial<SocksClientOptions> } = {},
): Promise<Rig> {
  const exit = new SocksExit({
    policy: new AddressPolicy((o.allow ?? LOOPBACK_ALLOW).map(parseCidr)),
    ...o.exit,
  });
  const mesh: Server = createServer({ allowHalfOpen: true }, (s) => exit.handle(s, { pk: o.pk ?? 'ab'.repeat(33) }));
  mesh.listen(0, '127.0.0.1');
  await once(mesh, 'listening');
  const meshPort = (mesh.address() as AddressInfo).port;
  const client = new SocksClient({
    port: 0,
    dial: async () => {
      const s = connect({ host: '127.0.0.1', port: meshPort, allowHalfOpen: true });
      await once(s, 'connect');
      return s;
    },
    ...o.client,
  });
  const { port: socksPort } = await client.listen();
  t.after(async () => {
    await client.close();
    exit.close();
    mesh.close();
  });
  return { client, exit, socksPort, meshPort };
}

export interface Target {
  port: number;
  big: Buffer;
  bigSha: string;
  server: HttpServer;
}

/** An HTTP server on `host`: "/" answers "hello", "/big" a random body, "/stream" never ends. */
export async function startHttpTarget(t: TestContext, host = '127.0.0.1', bigSize = 1024 * 1024): Promise<Target> {
  const big = randomBytes(bigSize);
  const server = createHttpServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': big.length, 'content-type': 'application/octet-stream' });
      res.end(big);
    } else if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on('drain', pump);
      pump();
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('hello');
    }
  });
  server.listen(0, host);
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    big,
    bigSha: createHash('sha256').update(big).digest('hex'),
    server,
  };
}

/** Connects, writes `bytes` (and ends the write side if asked), returns everything read until the close. */
export async function exchange(port: number, bytes: Buffer, o: { end?: boolean } = {}): Promise<Buffer> {
  const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await once(s, 'connect');
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('error', () => {});
  if (o.end) s.end(bytes);
  else s.write(bytes);
  await once(s, 'end').catch(() => undefined);
  s.destroy();
  return Buffer.concat(chunks);
}

/** Resolves once at least `n` bytes arrived on `s` (leaves the socket open and flowing). */
export function readAtLeast(s: Socket, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let len = 0;
    const onData = (c: Buffer) => {
      len += c.length;
      if (len >= n) {
        s.off('data', onData);
        s.off('close', onClose);
        resolve(len);
      }
    };
    const onClose = () => reject(new Error(`closed after ${len} of ${n} bytes`));
    s.on('data', onData);
    s.once('close', onClose);
  });
}

export const hex = (b: Buffer) => b.toString('hex');

/** SOCKS5 CONNECT request bytes for an IPv4 address. */
export function connectV4(ip: string, port: number, cmd = 1): Buffer {
  return Buffer.from([5, cmd, 0, 1, ...ip.split('.').map(Number), port >> 8, port & 0xff]);
}

export function connectDomain(name: string, port: number): Buffer {
  const n = Buffer.from(name);
  return Buffer.concat([Buffer.from([5, 1, 0, 3, n.length]), n, Buffer.from([port >> 8, port & 0xff])]);
}

/**
 * A TCP port where connects hang (like a blackholed host), on loopback only: a child process listens with
 * backlog 1 and then blocks without ever accepting, and two filler connections fill its accept queue, so
 * the kernel drops further SYNs.
 */
export async function startBlackhole(t: TestContext): Promise<number> {
  const script = `
    const net = require('net');
    const s = net.createServer();
    s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
      process.stdout.write(s.address().port + '\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: Socket[] = [];
  t.after(() => {
    for (const f of fillers) f.destroy();
    child.kill('SIGKILL');
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  for (let i = 0; i < 2; i++) {
    const f = connect({ host: '127.0.0.1', port });
    f.on('error', () => {});
    fillers.push(f);
    await once(f, 'connect');
  }
  return port;
}

/** Path of a compiled file next to this one. */
export function here(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}
