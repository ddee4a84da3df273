// How the VPN apps reach each other. In production that is the node's app SDK (AppClient: streams over
// mesh routes, peers authenticated by the node). The direct transport (direct-transport.ts) carries the same
// streams over one BOLT #8 secure TCP connection between the two apps, each with its own key file: for tests
// in network namespaces, debugging, or two machines without a mesh.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { VPN_SERVICE } from './protocol.js';
import { AppClient } from '../../node/sdk/index.js';

export interface RemoteInfo {
  /** The peer's public key (hex), authenticated by the node or the secure channel. */
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
  readonly localPk: string;
  listen(onConn: (sock: Duplex, remote: RemoteInfo) => void): Promise<void>;
  dial(pk: string, port: number, o?: DialOptions): Promise<Duplex>;
  announce(service: { name: string; attrs?: Record<string, string> }): Promise<void>;
  query(service: string): Promise<ServiceEntry[]>;
  /** IPv4 addresses the stream itself travels to: a full tunnel must keep routes to them outside. */
  underlayAddresses(): string[];
  /** Calls `cb` once if the transport is lost for good (the node went away). */
  onLost(cb: (err: Error) => void): void;
  close(): Promise<void>;
}

/** How often a node app checks that its node is still there. */
const NODE_CHECK_MS = 5000;

export function fromMeshApp(app: MeshApp): MeshTransport {
  const closers: Array<() => void> = [];
  return {
    localPk: app.localPk,
    listen: async (onConn) => app.listen(onConn),
    dial: (pk, port, o) => app.dial(pk, port, o),
    announce: (s) => app.announce(s),
    query: (s) => app.query(s),
    underlayAddresses: () => [],
    // The SDK does not report a lost node connection, but any request on a dead client fails at once
    // ('closed' / 'no_node'); a cheap query every few seconds turns that into an event.
    onLost: (cb) => {
      const timer = setInterval(() => {
        app.query(VPN_SERVICE).catch((err: Error & { code?: string }) => {
          if (err.code !== 'closed' && err.code !== 'no_node') return;
          clearInterval(timer);
          cb(new Error(`lost the connection to the node (${err.message})`));
        });
      }, NODE_CHECK_MS);
      timer.unref();
      closers.push(() => clearInterval(timer));
    },
    close: () => {
      for (const c of closers) c();
      return app.close();
    },
  };
}

/** Connects to the local node's app API (options, else SKYWIRE_APP_API / SKYWIRE_APP_TOKEN / SKYWIRE_APP_API_FILE). */
export async function connectNode(o: { api?: string; token?: string; apiFile?: string; name: string; port?: number }): Promise<MeshTransport> {
  return fromMeshApp(await AppClient.connect(o));
}
