// The direct transport: VPN streams over one BOLT #8 secure TCP connection per session (net's listenSecure /
// dialSecure), both keys authenticated by the handshake. Kept apart from transport.ts so that a VPN app on a
// node (the usual case) never loads the secure channel and secp256k1 code: about 4 MB of private memory.
import net from 'node:net';
import { formatHostPort, parseHostPort } from '../../util/hostport.js';
import { type KeyPair, loadOrCreateKeyFile, parsePublicKey, pkToHex } from '../../net/keys.js';
import { type SecureListener, dialSecure, listenSecure } from '../../net/tcp.js';
import type { MeshTransport } from './transport.js';

export { loadOrCreateKeyFile };

/**
 * Server side of the direct transport: a BOLT #8 secure listener (net's listenSecure); every accepted
 * channel is one VPN stream, from the key the handshake authenticated. A bare ":PORT" (or "PORT") listens on
 * loopback, as every other listener of the project does: other machines need an explicit host ("0.0.0.0:PORT").
 */
export function directListener(listenAt: string, localKey: KeyPair): MeshTransport & { address(): string } {
  const { host, port } = parseHostPort(listenAt, '127.0.0.1');
  let listener: SecureListener | undefined;
  return {
    address: () => (listener ? formatHostPort(listener.address()) : formatHostPort({ host, port })),
    localPk: pkToHex(localKey.publicKey),
    listen: async (onConn) => {
      listener = await listenSecure({ localKey, host, port }, (ch) => onConn(ch, { pk: pkToHex(ch.remotePublicKey), port: 0 }));
    },
    dial: () => Promise.reject(new Error('a direct listener cannot dial')),
    announce: async () => {},
    query: async () => [],
    underlayAddresses: () => [],
    onLost: () => {},
    close: async () => {
      await listener?.close();
    },
  };
}

/** Client side of the direct transport: each dial is a secure channel to `serverAt`, authenticating the server's key. */
export function directDialer(serverAt: string, localKey: KeyPair): MeshTransport {
  const { host, port } = parseHostPort(serverAt);
  return {
    localPk: pkToHex(localKey.publicKey),
    listen: () => Promise.reject(new Error('a direct dialer cannot listen')),
    dial: (pk) => dialSecure(host, port, parsePublicKey(pk), { localKey }),
    announce: async () => {},
    query: async () => [],
    underlayAddresses: () => (net.isIPv4(host) ? [host] : []),
    onLost: () => {},
    close: async () => {},
  };
}
