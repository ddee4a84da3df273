// A request/response link of JSON messages over a secure channel (used between nodes and node managers):
// each message in a frame of `len u32 | json`. Requests carry an `id`; the answer is {t:'reply', id, ok, ...}.
// Both sides may send requests.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { FrameDecoder } from './framing.js';

export const MAX_CONTROL_FRAME = 1 << 20;

export interface ControlMessage {
  t: string;
  id?: number;
  [k: string]: unknown;
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
        let m: ControlMessage;
        try {
          m = JSON.parse(f.subarray(4).toString('utf8')) as ControlMessage;
          if (typeof m !== 'object' || m === null || typeof m.t !== 'string') throw new Error('not a message');
        } catch {
          this.close('bad control message');
          return;
        }
        this.dispatch(m);
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
      const p = this.pending.get(Number(m.id));
      if (!p) return;
      this.pending.delete(Number(m.id));
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m);
      else p.reject(new ControlError(String(m.code ?? 'error'), String(m.error ?? 'request failed')));
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
