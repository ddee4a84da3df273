// Wiring of the two apps onto a node app connection (the SDK's AppClient, or anything with the same
// shape), kept apart from argument parsing so it can run against any mesh.
import { createLogger, type Logger } from '../../util/log.js';
import { AddressPolicy, type Cidr } from './address-policy.js';
import { SocksClient } from './client.js';
import { ExitPicker } from './exit-picker.js';
import { SocksExit } from './exit.js';
import type { MeshApp } from '../../node/sdk/index.js';

/** The service name socks-servers announce and socks-clients query. */
export const SOCKS_SERVICE = 'socks';
/** The mesh port a socks-server registers unless told otherwise. */
export const DEFAULT_MESH_PORT = 1080;

/** The node SDK's app interface (AppClient fits it; docs/internal-apis.md). */
export type { MeshApp } from '../../node/sdk/index.js';

export interface SocksServerAppOptions {
  allow?: Cidr[];
  clients?: string[];
  connectTimeoutMs?: number;
  attrs?: Record<string, string>;
  log?: Logger;
}

/** Serves SOCKS exit streams arriving on the app's mesh port and announces service "socks". */
export async function startSocksServerApp(app: MeshApp, o: SocksServerAppOptions = {}): Promise<SocksExit> {
  const log = o.log ?? createLogger('socks-server');
  const exit = new SocksExit({
    policy: new AddressPolicy(o.allow ?? []),
    clients: o.clients?.length ? new Set(o.clients.map((k) => k.toLowerCase())) : undefined,
    connectTimeoutMs: o.connectTimeoutMs,
    log,
  });
  app.listen((sock, remote) => exit.handle(sock, remote));
  await app.announce({ name: SOCKS_SERVICE, attrs: o.attrs });
  return exit;
}

export interface SocksClientAppOptions {
  host?: string;
  port?: number;
  /** A fixed socks-server, or undefined for "auto" (query service "socks"). */
  server?: { pk: string; port: number };
  hops?: number;
  auth?: { user: string; pass: string };
  handshakeTimeoutMs?: number;
  log?: Logger;
}

/** A local SOCKS5 listener whose connections each become a mesh stream to a socks-server. */
export async function startSocksClientApp(
  app: MeshApp,
  o: SocksClientAppOptions = {},
): Promise<{ client: SocksClient; address: { host: string; port: number } }> {
  const picker = new ExitPicker(
    o.server ? { fixed: o.server } : { query: () => app.query(SOCKS_SERVICE), self: app.localPk },
  );
  const hops = o.hops === undefined ? undefined : { minHops: o.hops, maxHops: o.hops };
  const client = new SocksClient({
    host: o.host,
    port: o.port,
    auth: o.auth,
    handshakeTimeoutMs: o.handshakeTimeoutMs,
    log: o.log,
    dial: () => picker.dial(app, hops),
  });
  const address = await client.listen();
  return { client, address };
}
