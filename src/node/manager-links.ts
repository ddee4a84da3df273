// A node's control links to the node managers it trusts (`--manager PK`): it dials each one (direct TCP to the
// address the manager announced, else a messenger stream to MANAGER_PORT) and keeps the link, redialing with
// backoff; a trusted manager may also open one itself. A control channel from any other key is refused and
// counted. Requests from a manager go to `onRequest`; emits 'up' (manager pk) and 'down' (manager pk).
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { type KeyPair, shortPk } from '../net/keys.js';
import { secureConnect, type SecureChannel } from '../net/secure.js';
import { dialSecure } from '../net/tcp.js';
import { ControlLink, type ControlMessage } from '../net/control-link.js';
import type { MessengerClient } from '../messenger/client.js';
import type { Logger } from '../util/log.js';
import { Backoff } from '../util/backoff.js';
import { parseHostPort } from '../util/hostport.js';
import { MANAGER_PORT, type NodeMessage, type TransportReport } from '../routing/control-protocol.js';

const HANDSHAKE_MS = 5000;

export interface ManagerLinksOptions {
  localKey: KeyPair;
  messenger: MessengerClient;
  /** Public keys (hex) of the node managers whose rules this node accepts. */
  managers: string[];
  log: Logger;
  /** Answers a manager's request (merged into the reply) or throws a ControlError. */
  onRequest(mpk: string, m: ControlMessage): Record<string, unknown> | void;
  /** The transports to tell a manager about in `hello`. */
  transports(): TransportReport[];
}

export class ManagerLinks extends EventEmitter {
  private readonly links = new Map<string, ControlLink>();
  private readonly trusted: Set<string>;
  private closed = false;
  /** Control channels opened by keys that are not trusted managers. */
  rejected = 0;

  constructor(private readonly o: ManagerLinksOptions) {
    super();
    this.trusted = new Set(o.managers.map((m) => m.toLowerCase()));
  }

  /** Starts keeping a link to every trusted manager. */
  start(): void {
    for (const m of this.trusted) void this.keep(m);
  }

  close(reason: string): void {
    this.closed = true;
    for (const l of this.links.values()) l.close(reason);
  }

  connected(): string[] {
    return [...this.links.keys()];
  }

  /** The live links, in the order they came up (a dial tries them in turn). */
  list(): ControlLink[] {
    return [...this.links.values()];
  }

  /** Tells every connected manager. */
  broadcast(m: NodeMessage): void {
    for (const l of this.links.values()) l.send(m);
  }

  /** A control channel a manager opened to us: taken if its key is trusted, else closed and counted. */
  accept(ch: SecureChannel, mpk: string): void {
    if (!this.trusted.has(mpk)) {
      this.rejected++;
      this.o.log.warn('rejected control channel from an untrusted manager key', { manager: shortPk(mpk) });
      ch.destroy();
      return;
    }
    this.attach(mpk, ch);
  }

  private async keep(mpk: string): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 5000 });
    while (!this.closed) {
      try {
        const ch = await this.dial(mpk);
        backoff.reset();
        const link = this.attach(mpk, ch);
        await new Promise((r) => link.once('close', r));
      } catch (err) {
        this.o.log.debug('manager connect failed', { manager: shortPk(mpk), err });
      }
      if (this.closed) return;
      await new Promise((r) => setTimeout(r, backoff.next()).unref());
    }
  }

  private async dial(mpk: string): Promise<SecureChannel> {
    const pkBuf = Buffer.from(mpk, 'hex');
    const opts = { localKey: this.o.localKey, handshakeTimeoutMs: HANDSHAKE_MS };
    const entry = await this.o.messenger.lookup(mpk);
    if (!entry) throw new Error(`manager ${shortPk(mpk)} is not registered with the messenger`);
    for (const a of entry.addresses) {
      try {
        const { host, port } = parseHostPort(a);
        return await dialSecure(host, port, pkBuf, opts);
      } catch (err) {
        this.o.log.debug('manager address failed', { address: a, err });
      }
    }
    return secureConnect(await this.o.messenger.open(mpk, MANAGER_PORT), pkBuf, opts);
  }

  private attach(mpk: string, ch: Duplex): ControlLink {
    const link = new ControlLink(ch, (m) => this.o.onRequest(mpk, m));
    this.links.get(mpk)?.close('replaced');
    this.links.set(mpk, link);
    link.on('close', (reason: string) => {
      if (this.links.get(mpk) === link) {
        this.links.delete(mpk);
        this.emit('down', mpk);
      }
      this.o.log.info('manager link down', { manager: shortPk(mpk), reason });
    });
    link.send({ t: 'hello', transports: this.o.transports() } satisfies NodeMessage);
    this.o.log.info('manager link up', { manager: shortPk(mpk) });
    this.emit('up', mpk);
    return link;
  }
}
