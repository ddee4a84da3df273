// The channels that reach a node, and how it tells them apart. A neighbour's transport and a manager's control
// link both arrive as secure channels (direct TCP, or a messenger stream to TRANSPORT_PORT); the first plaintext
// byte the dialer sends says which (docs/routing.md, Transports).
import type { Duplex } from 'node:stream';
import { type KeyPair, pkToHex, shortPk } from '../net/keys.js';
import { secureAccept, type SecureChannel } from '../net/secure.js';
import type { Logger } from '../util/log.js';

/** Port on the messenger for relayed transports between nodes. */
export const TRANSPORT_PORT = 5;
/** First byte a dialer sends on a channel to a node's listener. */
export const KIND_TRANSPORT = 0x54; // 'T'
export const KIND_CONTROL = 0x43; // 'C'
/** An inbound channel that says nothing within this long is closed. */
const FIRST_BYTE_MS = 5000;
const HANDSHAKE_MS = 5000;

/** How a transport reaches its peer: dialed TCP, relayed by a messenger, or TCP through NATs by hole punching. */
export type ChannelKind = 'direct' | 'relayed' | 'punched';

export interface ChannelHandlers {
  transport(ch: SecureChannel, pk: string, kind: ChannelKind): void;
  control(ch: SecureChannel, pk: string): void;
}

/** A relayed channel: the secure handshake as responder, whose key must be the messenger's sender. */
export function acceptRelayed(s: Duplex, from: string, localKey: KeyPair, log: Logger, onChannel: (ch: SecureChannel) => void): void {
  secureAccept(s, { localKey, handshakeTimeoutMs: HANDSHAKE_MS }).then(
    (ch) => {
      if (pkToHex(ch.remotePublicKey) !== from) {
        log.warn('relayed peer key differs from the messenger sender', { from: shortPk(from) });
        ch.destroy();
        return;
      }
      onChannel(ch);
    },
    (err: Error) => log.debug('relayed handshake failed', { err }),
  );
}

/** Reads an inbound channel's first byte and hands the paused channel (the rest put back) to its handler. */
export function demultiplex(ch: SecureChannel, kind: ChannelKind, handlers: ChannelHandlers, log: Logger): void {
  const pk = pkToHex(ch.remotePublicKey);
  const timer = setTimeout(() => ch.destroy(), FIRST_BYTE_MS);
  ch.on('error', () => {});
  ch.once('data', (first: Buffer) => {
    clearTimeout(timer);
    ch.pause();
    if (first.length > 1) ch.unshift(first.subarray(1));
    if (first[0] === KIND_TRANSPORT) handlers.transport(ch, pk, kind);
    else if (first[0] === KIND_CONTROL) handlers.control(ch, pk);
    else {
      log.debug('unknown channel kind', { peer: shortPk(pk), kind: first[0] });
      ch.destroy();
    }
  });
}
