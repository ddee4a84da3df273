// A request/response link of JSON messages over a secure channel (used between nodes and node managers):
// each message in a frame of `len u32 | json`. Requests carry an `id`; the answer is {t:'reply', id, ok, ...}.
// Both sides may send requests.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { FrameDecoder } from './framing.js';

export const MAX_CONTROL_FRAME = 1 << 20;
/** A peer that leaves this much of what we send it unread (replies to its requests, say) is dropped, so that
 *  sending requests without reading the answers cannot make us buffer without limit. */
export const MAX_CONTROL_UNSENT = 8 << 20;

export interface ControlMessage {
  t: string;
  id?: number;
  [k: string]: unknown;
}

/** Why `v` is not a control message we can act on, or undefined if it is one. A reply (t 'reply') needs its
 *  request's id and a boolean ok; a request may carry an id (then it is answered). */
export function controlMessageProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${JSON.stringify(v)} is not an object`;
  const m = v as Record<string, unknown>;
  if (typeof m.t !== 'string') return '"t" must be a string';
  const validId = typeof m.id === 'number' && Number.isSafeInteger(m.id) && m.id >= 0;
  if ((m.id !== undefined || m.t === 'reply') && !validId) return `"id" must be a non-negative integer, got ${JSON.stringify(m.id)}`;
  if (m.t === 'reply') {
    if (typeof m.ok !== 'boolean') return '"ok" must be a boolean';
    for (const k of ['code', 'error']) if (m[k] !== undefined && typeof m[k] !== 'string') return `"${k}" must be a string`;
  }
  return undefined;
}

export class ControlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ControlLink extends EventEmitter {
  private readonly decoder = new FrameDecoder({ lengthBytes: 4, maxLength: MAX_CONTROL_FRAME });
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: ControlMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private closed = false;

  /** `onRequest` answers a request (its return value is merged into the reply) or throws a ControlError. */
  constructor(
    readonly channel: Duplex,
    private readonly onRequest: (m: ControlMessage) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void,
  ) {
    super();
    channel.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.close(`bad control frame: ${(err as Error).message}`);
        return;
      }
      for (const f of frames) {
        let m: unknown;
        try {
          m = JSON.parse(f.subarray(4).toString('utf8'));
        } catch {
          this.close('bad control message: not JSON');
          return;
        }
        const problem = controlMessageProblem(m);
        if (problem) {
          this.close(`bad control message: ${problem}`);
          return;
        }
        this.dispatch(m as ControlMessage);
      }
    });
    channel.on('error', (err: Error) => this.close(err.message));
    channel.on('end', () => this.close('peer closed the control channel'));
    channel.on('close', () => this.close('control channel closed'));
    channel.resume();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(m: ControlMessage): void {
    if (this.closed) return;
    const body = Buffer.from(JSON.stringify(m), 'utf8');
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.length);
    this.channel.write(Buffer.concat([head, body]));
    if (this.channel.writableLength > MAX_CONTROL_UNSENT) {
      this.close(`peer is not reading (over ${MAX_CONTROL_UNSENT} bytes unsent)`);
    }
  }

  request(m: ControlMessage, timeoutMs = 10_000): Promise<ControlMessage> {
    if (this.closed) return Promise.reject(new ControlError('closed', 'control channel is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ControlError('timeout', `no answer to "${m.t}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ ...m, id });
    });
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ControlError('closed', reason));
    }
    this.pending.clear();
    this.channel.destroy();
    this.emit('close', reason);
  }

  private dispatch(m: ControlMessage): void {
    if (m.t === 'reply') {
      const id = m.id as number;
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m);
      else p.reject(new ControlError((m.code as string | undefined) ?? 'error', (m.error as string | undefined) ?? 'request failed'));
      return;
    }
    Promise.resolve()
      .then(() => this.onRequest(m))
      .then(
        (r) => {
          if (m.id !== undefined) this.send({ t: 'reply', id: m.id, ok: true, ...(r ?? {}) });
        },
        (err: Error) => {
          if (m.id !== undefined) {
            this.send({ t: 'reply', id: m.id, ok: false, code: (err as ControlError).code ?? 'error', error: err.message });
          }
        },
      );
  }
}
