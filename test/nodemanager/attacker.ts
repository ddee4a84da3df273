// A hostile "node" for the manager tests: a fresh key with a control link straight to a node manager, speaking
// the node's control messages with whatever it likes (reports, requests, raw frames, answers to reserve/install).
import { generateKeyPair, pkToHex, type KeyPair } from '../../src/net/keys.js';
import { dialSecure } from '../../src/net/tcp.js';
import { ControlLink, type ControlMessage } from '../../src/net/control-link.js';
import { parseHostPort } from '../../src/util/hostport.js';
import { secureConnect } from '../../src/net/secure.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';
import type { Duplex } from 'node:stream';

export interface Attacker {
  pk: string;
  key: KeyPair;
  link: ControlLink;
  /** Every request the manager sent (reserve, install, remove...). */
  received: ControlMessage[];
  /** Sends `m` and then a request the manager must answer: resolves once the manager has handled `m`. */
  sendAndSync(m: ControlMessage): Promise<void>;
  request(m: ControlMessage): Promise<ControlMessage>;
  close(): void;
}

export interface AttackerBehaviour {
  /** Answer to a manager's request; return undefined to never answer. Default: ids for reserve, ok for the rest. */
  answer?: (m: ControlMessage) => Record<string, unknown> | undefined;
  key?: KeyPair;
  /** Reach the manager through this messenger's relay (port 6) instead of its TCP address. */
  viaMessenger?: string;
}

let nextId = 1;

/** Connects to the manager at `listen` ("host:port", from its --json line) with public key `managerPk`. */
export async function connectAttacker(listen: string, managerPk: string, b: AttackerBehaviour = {}): Promise<Attacker> {
  const key = b.key ?? generateKeyPair();
  let ch: Duplex;
  let messenger: MessengerClient | undefined;
  if (b.viaMessenger) {
    messenger = new MessengerClient({ localKey: key, messengers: [parseMessengerAddress(b.viaMessenger)] });
    await messenger.start();
    const s = await messenger.open(managerPk, 6);
    ch = await secureConnect(s, Buffer.from(managerPk, 'hex'), { localKey: key, handshakeTimeoutMs: 5000 });
  } else {
    const { host, port } = parseHostPort(listen);
    ch = await dialSecure(host, port, Buffer.from(managerPk, 'hex'), { localKey: key, handshakeTimeoutMs: 5000 });
  }
  ch.on('error', () => {});
  const received: ControlMessage[] = [];
  const answer =
    b.answer ??
    ((m: ControlMessage) => (m.t === 'reserve' ? { ids: Array.from({ length: Number(m.count) }, () => nextId++) } : {}));
  const link = new ControlLink(ch, (m) => {
    received.push(m);
    const a = answer(m);
    return a === undefined ? new Promise<never>(() => {}) : a;
  });
  return {
    pk: pkToHex(key.publicKey),
    key,
    link,
    received,
    request: (m) => link.request(m, 5000),
    async sendAndSync(m) {
      link.send(m);
      // The manager handles a link's messages in order: the answer to this one means `m` was handled.
      await link.request({ t: 'sync?' }, 5000).then(
        () => {},
        (e: Error & { code?: string }) => {
          if (e.code !== 'bad_request') throw e;
        },
      );
    },
    close: () => {
      link.close('attacker leaves');
      void messenger?.close();
    },
  };
}
