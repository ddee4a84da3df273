// In-memory transports for in-process tests of route ends: two Transport objects joined by a pair of Duplex
// streams in this process (no socket, no secure channel), whose link can be cut to lose what is sent on it.
import { Duplex } from 'node:stream';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { Transport } from '../../src/node/transport.js';

class MemoryEnd extends Duplex {
  peer!: MemoryEnd;
  /** Set when the link is cut: writes vanish (what was in flight on a dead hop). */
  blackhole = false;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.blackhole && !this.peer.destroyed) this.peer.push(chunk);
    cb();
  }

  override _read(): void {}

  override _final(cb: (err?: Error | null) => void): void {
    this.peer.push(null);
    cb();
  }
}

/** Two in-memory streams joined back to back: what one writes the other reads (end included). */
export function duplexPair(): [Duplex, Duplex] {
  const a = new MemoryEnd({ allowHalfOpen: true });
  const b = new MemoryEnd({ allowHalfOpen: true });
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A node's identity in these tests: only its key (hex) matters to a route end. */
export const pkA = pkToHex(generateKeyPair().publicKey);
export const pkB = pkToHex(generateKeyPair().publicKey);

/** Two transports: `atA` is A's transport to B, `atB` is B's transport to A. */
export interface MemoryLink {
  atA: Transport;
  atB: Transport;
  /** Everything sent from now on is lost (a hop dying: the transports do not know yet). */
  lose(): void;
  /** Loses what is sent and closes both transports (the hop is gone). */
  cut(): void;
  close(): void;
}

export function memoryLink(): MemoryLink {
  const a = new MemoryEnd();
  const b = new MemoryEnd();
  a.peer = b;
  b.peer = a;
  // No PINGs in these tests: an interval long enough never to fire, and silence is never judged.
  const o = { pingIntervalMs: 3_600_000, deadAfterMs: 3_600_000 };
  const atA = new Transport(a, pkB, 'direct', true, o);
  const atB = new Transport(b, pkA, 'direct', false, o);
  return {
    atA,
    atB,
    lose() {
      a.blackhole = true;
      b.blackhole = true;
    },
    cut() {
      this.lose();
      atA.close('cut');
      atB.close('cut');
    },
    close() {
      atA.close('test over');
      atB.close('test over');
    },
  };
}
