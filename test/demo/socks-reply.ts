// One SOCKS5 CONNECT through a proxy on 127.0.0.1, as a program using the demo's proxy would send it.
import { connect } from 'node:net';

/**
 * Greets the proxy (no auth), sends CONNECT to `address` (ATYP, address and port bytes as SOCKS5 puts them) and
 * resolves with the reply code (0 = connected); rejects if the proxy closes without a reply.
 */
export function socksConnectReply(proxyPort: number, address: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(proxyPort, '127.0.0.1', () => sock.write(Buffer.from([5, 1, 0])));
    let buf = Buffer.alloc(0);
    let stage = 0;
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 1;
        sock.write(Buffer.concat([Buffer.from([5, 1, 0]), address]));
      }
      if (stage === 1 && buf.length >= 2) {
        sock.destroy();
        resolve(buf[1]);
      }
    });
    sock.on('close', () => reject(new Error('the proxy closed without a reply')));
  });
}
