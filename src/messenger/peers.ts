// Connections to the other messengers of a shared registry, dialed on demand when a client here asks for a key
// that Redis says is served there. The dial proves our key (BOLT #8) and PEER asks the far end to check, in Redis,
// that the key is a live messenger of the registry; only then may we forward streams and datagrams there, naming
// our clients as their senders. One connection per peer carries all forwards; a failed dial is not retried for a
// second, so a dead messenger (whose claims live until their TTL) costs one dial, not one per request.
import type { KeyPair } from '../net/keys.js';
import { pkToHex } from '../net/keys.js';
import type { SecureChannel } from '../net/secure.js';
import { dialSecure } from '../net/tcp.js';
import { createLogger } from '../util/log.js';
import { parseMessengerAddress } from './address.js';
import type { Conn } from './conn.js';
import { farWindowOf } from './credit.js';
import { MessengerError } from './errors.js';
import { OP, PROTOCOL_VERSION, jsonBuf } from './protocol.js';
import type { SharedDirectory } from './shared-directory.js';

const log = createLogger('messenger-peers');
const RETRY_AFTER_MS = 1000;
const DIAL_TIMEOUT_MS = 3000;

export class PeerLinks {
  private readonly dialing = new Map<string, Promise<Conn>>();
  private readonly up = new Map<string, Conn>();
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly o: {
      key: KeyPair;
      dir: SharedDirectory;
      /** Our largest window per stream, told to the far end in PEER (credit.ts). */
      maxWindow: number;
      /** Wraps a dialed channel as a connection the server reads (peer 'out'). */
      adopt: (ch: SecureChannel) => Conn;
    },
  ) {}

  /** The connection to messenger `mpk` (hex), dialed if needed; rejects with 'offline' when it cannot be had. */
  get(mpk: string): Promise<Conn> {
    const c = this.up.get(mpk);
    if (c && !c.gone) return Promise.resolve(c);
    const d = this.dialing.get(mpk);
    if (d) return d;
    if (Date.now() - (this.failedAt.get(mpk) ?? 0) < RETRY_AFTER_MS) {
      return Promise.reject(new MessengerError('offline', `messenger ${mpk.slice(0, 8)} was unreachable a moment ago`));
    }
    const p = this.dial(mpk).then(
      (conn) => {
        this.dialing.delete(mpk);
        this.up.set(mpk, conn);
        return conn;
      },
      (err: Error) => {
        this.dialing.delete(mpk);
        this.failedAt.set(mpk, Date.now());
        if (this.failedAt.size > 1024) this.failedAt.clear(); // bounded: there are few messengers
        throw err;
      },
    );
    this.dialing.set(mpk, p);
    return p;
  }

  /** The server saw `c` close. */
  forget(c: Conn): void {
    if (this.up.get(c.pkHex) === c) this.up.delete(c.pkHex);
  }

  private async dial(mpk: string): Promise<Conn> {
    let last: unknown = 'it published no address';
    for (const text of await this.o.dir.messengerAddresses(mpk)) {
      let a;
      try {
        a = parseMessengerAddress(text);
      } catch (err) {
        last = err;
        continue;
      }
      if (pkToHex(a.pk) !== mpk) continue; // an address must be for the key it is filed under
      let conn: Conn | undefined;
      try {
        const ch = await dialSecure(a.host, a.port, a.pk, { localKey: this.o.key, handshakeTimeoutMs: DIAL_TIMEOUT_MS });
        conn = this.o.adopt(ch);
        const answer = await conn.request(OP.PEER, jsonBuf({ version: PROTOCOL_VERSION, maxWindow: this.o.maxWindow }), DIAL_TIMEOUT_MS);
        conn.farWindow = farWindowOf(answer); // older messengers do not say: the window they had
        log.info('linked to peer messenger', { messenger: mpk.slice(0, 8), address: text });
        return conn;
      } catch (err) {
        conn?.ch.destroy();
        last = err;
      }
    }
    log.info('peer messenger unreachable', { messenger: mpk.slice(0, 8), err: String((last as Error)?.message ?? last) });
    throw new MessengerError('offline', `messenger ${mpk.slice(0, 8)} is unreachable`);
  }
}
