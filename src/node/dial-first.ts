// Dialing a peer's announced addresses: all at once, the first channel that authenticates wins.
import type { SecureChannel } from '../net/secure.js';
import { dialSecure } from '../net/tcp.js';
import { parseHostPort } from '../util/hostport.js';

/**
 * Dials every announced address at once (a node announces its LAN addresses and its public one: only some
 * answer, and a silent one must not hold up the others) and keeps the first channel that authenticates;
 * the others are closed as they arrive. Rejects with every address's failure.
 */
export function dialFirst(addresses: readonly string[], pk: Buffer, opts: Parameters<typeof dialSecure>[3]): Promise<SecureChannel> {
  return new Promise((resolve, reject) => {
    if (!addresses.length) {
      reject(new Error('no address to dial'));
      return;
    }
    const errors: string[] = [];
    let won = false;
    let left = addresses.length;
    for (const a of addresses) {
      let dialed: Promise<SecureChannel>;
      try {
        const { host, port } = parseHostPort(a);
        dialed = dialSecure(host, port, pk, opts);
      } catch (err) {
        dialed = Promise.reject(new Error(`announced address "${a}": ${(err as Error).message}`));
      }
      dialed.then(
        (ch) => {
          if (won) ch.destroy();
          else {
            won = true;
            resolve(ch);
          }
        },
        (err: Error) => {
          errors.push(err.message);
          if (--left === 0 && !won) reject(new Error(errors.join('; ')));
        },
      );
    }
  });
}
