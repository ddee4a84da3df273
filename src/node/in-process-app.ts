// An app inside the node's process (docs/app-api.md, "Apps inside the node"): the SDK's MeshApp interface
// implemented on the node itself, so app code written against it (the VPN) runs unchanged either beside its
// node (AppClient: loopback sockets and JSON lines) or in it, where dial/accept/announce/query are plain calls
// and each stream is the route's end-to-end channel itself: no loopback TCP, no extra copy, no extra process.
// Composed by the CLI (src/cli): the node layer never imports an app.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { AppApiError } from './sdk/errors.js';
import type { DialOptions, MeshApp, RemoteInfo, ServiceEntry } from './sdk/mesh-app.js';
import type { AppApiHost, AppApiServer, InProcessRegistration } from './app-api.js';
import * as check from './app-api-checks.js';

/** Incoming streams held until the app listens (bounded: any node may dial the port meanwhile). */
const MAX_QUEUED = 64;

/** What the in-process app needs of a node: its API server (ports, services) and its host side (routes). */
export interface InProcessNode {
  readonly api: AppApiServer;
  readonly pkHex: string;
  dial: AppApiHost['dial'];
  query: AppApiHost['query'];
}

/**
 * One app registered with the node it runs in. Emits 'close' once, after `close()` (no argument) or when the
 * node closes it (`closeWith`, an AppApiError with code 'closed'), as AppClient does for a lost API.
 */
export class InProcessApp extends EventEmitter implements MeshApp<Duplex> {
  readonly localPk: string;
  private onConn: ((sock: Duplex, remote: RemoteInfo) => void) | undefined;
  private readonly queued: Array<{ stream: Duplex; remote: RemoteInfo }> = [];
  private readonly reg: InProcessRegistration;
  private readonly dialing = new Set<Duplex>();
  private closed = false;

  /** `port` omitted: the node picks a free one (from 49152), as for a separate app. */
  constructor(
    private readonly node: InProcessNode,
    o: { name: string; port?: number },
  ) {
    super();
    this.localPk = node.pkHex;
    // The same checks as a separate app's hello: a name of 1-64 characters, a port 1-65535 (1 is the echo service).
    const { name, port } = check.hello({ name: o.name, port: o.port });
    this.reg = node.api.registerInProcess(name, port, (stream, remote) => this.incoming(stream, remote));
  }

  get port(): number {
    return this.reg.port;
  }

  listen(onConn: (sock: Duplex, remote: RemoteInfo) => void): void {
    this.onConn = onConn;
    for (const q of this.queued.splice(0)) onConn(q.stream, q.remote);
  }

  async dial(pk: string, port: number, o: DialOptions = {}): Promise<Duplex> {
    if (this.closed) throw new AppApiError('closed', 'the app is closed');
    const d = check.dial({ pk, port, minHops: o.minHops, maxHops: o.maxHops });
    const stream = await this.node.dial(this.reg.port, d.pk, d.port, { minHops: d.minHops, maxHops: d.maxHops, gone: () => this.closed });
    if (this.closed) {
      stream.destroy();
      throw new AppApiError('closed', 'the app is closed');
    }
    // Streams the app holds end with it, as a separate app's sockets end when it exits.
    this.dialing.add(stream);
    stream.once('close', () => this.dialing.delete(stream));
    return stream;
  }

  announce(service: { name: string; attrs?: Record<string, string> }): Promise<void> {
    return this.reg.announce(service);
  }

  async query(service: string): Promise<ServiceEntry[]> {
    if (this.closed) throw new AppApiError('closed', 'the app is closed');
    return this.node.query(check.query({ service }));
  }

  async close(): Promise<void> {
    this.closeWith(undefined);
  }

  /** Ends the registration; `err` says the node ended it (it is closing). */
  closeWith(err: AppApiError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.reg.close();
    for (const q of this.queued.splice(0)) q.stream.destroy();
    for (const s of this.dialing) s.destroy();
    this.emit('close', err);
  }

  private incoming(stream: Duplex, remote: RemoteInfo): void {
    if (this.closed) {
      stream.destroy(new AppApiError('refused', `nothing listens on port ${this.reg.port}`));
      return;
    }
    if (this.onConn) this.onConn(stream, remote);
    else if (this.queued.length < MAX_QUEUED) this.queued.push({ stream, remote });
    else stream.destroy(new AppApiError('busy', `app on port ${this.reg.port} is not listening yet`));
  }
}
