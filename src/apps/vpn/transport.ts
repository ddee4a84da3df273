// How the VPN apps reach each other. In production that is the node's app SDK (AppClient: streams over
// mesh routes, peers authenticated by the node). The direct transport (direct-transport.ts) carries the same
// streams over one BOLT #8 secure TCP connection between the two apps, each with its own key file: for tests
// in network namespaces, debugging, or two machines without a mesh.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { VPN_SERVICE } from './protocol.js';
import { AppClient, type MeshApp as SdkMeshApp, type RemoteInfo } from '../../node/sdk/index.js';

export type { RemoteInfo, DialOptions, ServiceEntry } from '../../node/sdk/index.js';

/** The SDK's app interface with net.Socket streams (AppClient fits it as is). */
export type MeshApp = SdkMeshApp<net.Socket>;

/** How the VPN reaches its peer: a node app, or a direct secure connection (which has underlay addresses). */
export interface MeshTransport extends Omit<SdkMeshApp, 'listen'> {
  listen(onConn: (sock: Duplex, remote: RemoteInfo) => void): Promise<void>;
  /** IPv4 addresses the stream itself travels to: a full tunnel must keep routes to them outside. */
  underlayAddresses(): string[];
  /** Calls `cb` once if the transport is lost for good (the node went away). */
  onLost(cb: (err: Error) => void): void;
}

/** How often a node app checks that its node is still there. */
const NODE_CHECK_MS = 5000;

export function fromMeshApp(app: MeshApp): MeshTransport {
  // The SDK does not report a lost node connection, but any request on a dead client fails at once
  // ('closed' / 'no_node'); a cheap query every few seconds turns that into an event.
  return wrap(app, (cb) => {
    const timer = setInterval(() => {
      app.query(VPN_SERVICE).catch((err: Error & { code?: string }) => {
        if (err.code !== 'closed' && err.code !== 'no_node') return;
        clearInterval(timer);
        cb(new Error(`lost the connection to the node (${err.message})`));
      });
    }, NODE_CHECK_MS);
    timer.unref();
    return () => clearInterval(timer);
  });
}

/**
 * An app inside its node's process (the CLI builds it on the node: src/node/in-process-app.ts): streams are the
 * routes' channels themselves, and the node says when it ends the app ('close' with an error).
 */
export function fromInProcessApp(app: SdkMeshApp & { once(ev: 'close', cb: (err?: Error) => void): unknown }): MeshTransport {
  return wrap(app, (cb) => {
    let on = true;
    app.once('close', (err?: Error) => {
      if (on && err) cb(new Error(`lost the node (${err.message})`));
    });
    return () => (on = false);
  });
}

/** A MeshTransport over an app; `watchLost` starts watching for its node's loss and returns how to stop. */
function wrap(app: SdkMeshApp, watchLost: (cb: (err: Error) => void) => () => void): MeshTransport {
  const closers: Array<() => void> = [];
  return {
    localPk: app.localPk,
    listen: async (onConn) => app.listen(onConn),
    dial: (pk, port, o) => app.dial(pk, port, o),
    announce: (s) => app.announce(s),
    query: (s) => app.query(s),
    underlayAddresses: () => [],
    onLost: (cb) => closers.push(watchLost(cb)),
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
