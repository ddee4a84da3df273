// Joins two streams both ways with backpressure. A clean end in one direction is passed on as a
// half-close (so "send request, shut write, read answer" clients work); an error or abort on either
// side tears both down, so a vanished peer is seen as a closed connection, never a hang.
import type { Duplex } from 'node:stream';

export interface SpliceStats {
  up: number; // bytes a -> b
  down: number; // bytes b -> a
}

export function splice(a: Duplex, b: Duplex, onDone?: (s: SpliceStats, err?: Error) => void): void {
  const stats: SpliceStats = { up: 0, down: 0 };
  let finished = false;
  let failure: Error | undefined;
  a.on('data', (c: Buffer) => (stats.up += c.length));
  b.on('data', (c: Buffer) => (stats.down += c.length));
  a.pipe(b);
  b.pipe(a);

  const done = () => {
    if (finished) return;
    finished = true;
    onDone?.(stats, failure);
  };
  const abort = (err?: Error) => {
    if (err && !failure) failure = err;
    a.destroy();
    b.destroy();
  };
  a.on('error', abort);
  b.on('error', abort);
  // When one side is fully closed, nothing more can reach it: let the other flush what it was
  // given, then close it too.
  const follow = (closed: Duplex, other: Duplex) => {
    closed.on('close', () => {
      if (other.destroyed) return done();
      const aborted = closed.readableEnded === false; // closed without a clean end: peer vanished
      if (aborted) return abort();
      if (other.writableFinished) other.destroy();
      else {
        other.end();
        other.once('finish', () => other.destroy());
      }
    });
  };
  follow(a, b);
  follow(b, a);
}
