// An app's stream joined to a route's stream, both ways (the app API hands each dialed or accepted stream to
// the app as its own local socket). Chunks read in one event-loop turn are written as one batch.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createLogger } from '../util/log.js';
import { MAX_BATCH_BYTES, sendsAtOnce } from '../net/batching.js';

const log = createLogger('node.api');

/**
 * Like `src.pipe(dst)`, but the chunks read in one event-loop turn go to `dst` as one corked write, by the
 * batching policy of src/net/batching.ts: the secure channel below then cuts them into full messages, and on the
 * way out the app's socket gets one writev per turn. A small chunk arriving alone goes out at once.
 */
function pumpBatched(src: Duplex, dst: Duplex): void {
  let chunks: Buffer[] = [];
  let len = 0;
  let scheduled = false;
  let waiting = false;
  const flush = () => {
    scheduled = false;
    if (!len) return;
    const batch = chunks;
    chunks = [];
    len = 0;
    if (dst.destroyed || dst.writableEnded) return;
    let ok = true;
    if (batch.length === 1) ok = dst.write(batch[0]);
    else {
      dst.cork();
      for (const b of batch) ok = dst.write(b);
      dst.uncork();
    }
    // Backpressure as with pipe(): stop reading while dst is full. (A false from a corked write with everything
    // taken at uncork needs no wait; else 'drain' follows, since a false write sets needDrain.)
    if (!ok && dst.writableLength > 0 && !waiting) {
      waiting = true;
      src.pause();
      dst.once('drain', () => {
        waiting = false;
        src.resume();
      });
    }
  };
  src.on('data', (b: Buffer) => {
    chunks.push(b);
    len += b.length;
    if (len >= MAX_BATCH_BYTES || sendsAtOnce(b.length, len - b.length)) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  src.once('end', () => {
    flush();
    if (!dst.destroyed && !dst.writableEnded) dst.end();
  });
}

/** Joins an app socket and a stream both ways; an abrupt end on either side resets the other. */
export function joinStreams(sock: Socket, stream: Duplex): void {
  pumpBatched(sock, stream);
  pumpBatched(stream, sock);
  stream.on('error', (err: Error) => {
    log.debug('stream error', { err });
    if (!sock.destroyed) sock.resetAndDestroy();
  });
  stream.on('close', () => {
    // A stream that closed without ending (reset, route gone) resets the app's socket. One that ended has already
    // ended the socket: its FIN may still be on the way, and a reset then fails (EINVAL) and leaves the socket
    // half torn down (a closed API server then spun a core).
    if (!sock.destroyed && !sock.writableEnded) sock.resetAndDestroy();
  });
  sock.on('error', () => stream.destroy());
  sock.on('close', () => {
    if (!stream.destroyed && !(stream.writableFinished && stream.readableEnded)) stream.destroy();
  });
}
