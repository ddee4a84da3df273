// What an app's logic needs of its node, as an interface: code written against it runs on a node (the SDK's
// AppClient implements it) or on anything of the same shape (a direct transport between two apps, a test).
import type { Duplex } from 'node:stream';

/** The far end of a stream: its node's public key (authenticated end to end) and its app's port. */
export interface RemoteInfo {
  pk: string;
  port: number;
}

export interface DialOptions {
  minHops?: number;
  maxHops?: number;
}

/** A service some node announced. */
export interface ServiceEntry {
  pk: string;
  port: number;
  attrs?: Record<string, string>;
}

/** An app registered with its node; `S` is its stream type (AppClient: net.Socket). */
export interface MeshApp<S extends Duplex = Duplex> {
  readonly localPk: string;
  /** Streams dialed to this app arrive here. */
  listen(onConn: (sock: S, remote: RemoteInfo) => void): void;
  dial(pk: string, port: number, o?: DialOptions): Promise<S>;
  announce(service: { name: string; attrs?: Record<string, string> }): Promise<void>;
  query(service: string): Promise<ServiceEntry[]>;
  close(): Promise<void>;
}
