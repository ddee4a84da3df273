// The app API wire format (docs/app-api.md): each connection starts with one JSON line from the app and one
// JSON line back from the node. A control connection then carries more JSON lines; a stream connection
// (dial / accept) carries raw stream bytes after the two lines.
import type { Socket } from 'node:net';

export const MAX_LINE = 64 * 1024;

/**
 * Reads one '\n'-terminated JSON line; bytes after it are put back on the socket for the next reader. Uses
 * 'readable' (not 'data') so the socket is left neither flowing nor paused: a later 'data' listener or pipe
 * starts it as usual.
 */
export function readJsonLine(sock: Socket, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const timer = setTimeout(() => finish(new Error(`no request line within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | null, value?: Record<string, unknown>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.off('readable', onReadable);
      sock.off('end', onEnd);
      sock.off('error', onEnd);
      sock.off('close', onEnd);
      if (err) reject(err);
      else resolve(value!);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (!done && (chunk = sock.read() as Buffer | null) !== null) {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        const nl = buf.indexOf(10);
        if (nl < 0) {
          if (buf.length > MAX_LINE) finish(new Error(`line longer than ${MAX_LINE} bytes`));
          continue;
        }
        const rest = buf.subarray(nl + 1);
        if (rest.length) sock.unshift(rest);
        let v: unknown;
        try {
          v = JSON.parse(buf.subarray(0, nl).toString('utf8'));
        } catch {
          finish(new Error('not a JSON line'));
          return;
        }
        if (typeof v !== 'object' || v === null || Array.isArray(v)) finish(new Error('expected a JSON object'));
        else finish(null, v as Record<string, unknown>);
      }
    };
    const onEnd = () => finish(new Error('connection closed before a complete line'));
    sock.on('readable', onReadable);
    sock.once('end', onEnd);
    sock.once('error', onEnd);
    sock.once('close', onEnd);
  });
}

/** Bytes a control connection may hold of a line not yet ended: past it the peer is not speaking this protocol. */
export const MAX_PENDING_LINE = 1 << 20;

/**
 * Calls `onLine` with each '\n'-terminated line of a long-lived connection (the app's control connection, on
 * both sides), in order; an unended line over MAX_PENDING_LINE bytes destroys the socket.
 */
export function onLines(sock: Socket, onLine: (line: string) => void): void {
  sock.setEncoding('utf8');
  let buf = '';
  sock.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine(line);
    }
    if (buf.length > MAX_PENDING_LINE) sock.destroy();
  });
}

export function writeJsonLine(sock: Socket, v: Record<string, unknown>): void {
  if (!sock.destroyed) sock.write(JSON.stringify(v) + '\n');
}

/** Port of the echo service every node runs, used by `skywire ping`. */
export const ECHO_PORT = 1;
