// How the VPN apps reach each other. In production that is the node's app SDK (AppClient: streams over
// mesh routes, peers authenticated by the node). The direct TCP transport carries the same streams over
// one plain TCP connection, for tests in network namespaces and for debugging; it does not authenticate
// the client's key (the client only claims it), so it must only be used on a network you control.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { formatHostPort, parseHostPort } from '../../util/hostport.js';
import { AppClient } from '../../node/sdk/index.js';

export interface RemoteInfo {
  /** The peer's public key (hex) as authenticated by the node; "" when the transport cannot tell. */
  pk: string;
  port: number;
}

export interface DialOptions {
  minHops?: number;
  maxHops?: number;
}

export interface ServiceEntry {
  pk: string;
  port: number;
  attrs?: Record<string, string>;
}

/** The subset of the SDK's AppClient the VPN uses (AppClient fits it as is). */
export interface MeshApp {
  readonly localPk: string;
  listen(onConn: (sock: net.Socket, remote: RemoteInfo) => void): void;
  dial(pk: string, port: number, o?: DialOptions): Promise<net.Socket>;
  announce(service: { name: string; attrs?: Record<string, string> }): Promise<void>;
  query(service: string): Promise<ServiceEntry[]>;
  close(): Promise<void>;
}

export interface MeshTransport {
  /** True when RemoteInfo.pk is authenticated (the node); false for the direct TCP transport. */
  readonly authenticated: boolean;
  readonly localPk: string;
  listen(onConn: (sock: Duplex, remote: RemoteInfo) => void): Promise<void>;
  dial(pk: string, port: number, o?: DialOptions): Promise<Duplex>;
  announce(service: { name: string; attrs?: Record<string, string> }): Promise<void>;
  query(service: string): Promise<ServiceEntry[]>;
  /** IPv4 addresses the stream itself travels to: a full tunnel must keep routes to them outside. */
  underlayAddresses(): string[];
  close(): Promise<void>;
}

export function fromMeshApp(app: MeshApp): MeshTransport {
  return {
    authenticated: true,
    localPk: app.localPk,
    listen: async (onConn) => app.listen(onConn),
    dial: (pk, port, o) => app.dial(pk, port, o),
    announce: (s) => app.announce(s),
    query: (s) => app.query(s),
    underlayAddresses: () => [],
    close: () => app.close(),
  };
}

/** Connects to the local node's app API (options, else SKYWIRE_APP_API / SKYWIRE_APP_TOKEN / SKYWIRE_APP_API_FILE). */
export async function connectNode(o: { api?: string; token?: string; apiFile?: string; name: string; port?: number }): Promise<MeshTransport> {
  return fromMeshApp(await AppClient.connect(o));
}

/** Server side of the direct transport: a TCP listener; each connection is one VPN stream. */
export function directListener(listenAt: string): MeshTransport {
  const { host, port } = parseHostPort(listenAt, '0.0.0.0');
  let server: net.Server | undefined;
  return {
    authenticated: false,
    localPk: '',
    listen: (onConn) =>
      new Promise((resolve, reject) => {
        server = net.createServer((sock) => {
          sock.setNoDelay(true);
          onConn(sock, { pk: '', port: sock.remotePort ?? 0 });
        });
        server.once('error', (err) => reject(new Error(`cannot listen on ${formatHostPort({ host, port })}: ${err.message}`)));
        server.listen(port, host, () => resolve());
      }),
    dial: () => Promise.reject(new Error('a direct listener cannot dial')),
    announce: async () => {},
    query: async () => [],
    underlayAddresses: () => [],
    close: () => new Promise((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}

/** Client side of the direct transport: every dial opens a TCP connection to `serverAt`, whatever the key. */
export function directDialer(serverAt: string, claimedPk: string): MeshTransport {
  const { host, port } = parseHostPort(serverAt);
  return {
    authenticated: false,
    localPk: claimedPk,
    listen: () => Promise.reject(new Error('a direct dialer cannot listen')),
    dial: () =>
      new Promise((resolve, reject) => {
        const sock = net.connect({ host, port });
        sock.setNoDelay(true);
        sock.once('connect', () => {
          sock.off('error', reject);
          resolve(sock);
        });
        sock.once('error', reject);
      }),
    announce: async () => {},
    query: async () => [{ pk: '', port }],
    underlayAddresses: () => (net.isIPv4(host) ? [host] : []),
    close: async () => {},
  };
}
