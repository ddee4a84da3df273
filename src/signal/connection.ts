// One signal connection, shared by server and client: frames in and out, an ACK for every NORMAL received,
// a PONG for every PING when asked to, and outgoing sequence numbers. Anything malformed closes the socket.

import type { Socket } from 'node:net';
import { SignalFrameError } from './errors.js';
import { FrameDecoder, decodeMessage, encodeAck, encodeMessage, encodeNormal, encodePing, encodePong, nextSeq } from './frames.js';

/** A peer that lets this much of our output pile up unread is not reading: it is dropped, not buffered for. */
export const MAX_UNSENT_BYTES = 1 << 20;

export interface ConnectionHandlers {
  onMessage(op: number, data: unknown): void;
  /** Called once, just before the socket is destroyed for breaking the protocol. */
  onProtocolError(reason: string): void;
  onPong?(ms: bigint): void;
}

export class SignalConnection {
  private seq = 0;
  private readonly decoder = new FrameDecoder();
  private failed = false;

  constructor(
    readonly socket: Socket,
    private readonly handlers: ConnectionHandlers,
    private readonly answerPings: boolean,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  /** Sends a NORMAL frame with `op` + JSON; returns its sequence number. */
  send(op: number, data: unknown, written?: () => void): number {
    this.seq = nextSeq(this.seq);
    this.write(encodeNormal(this.seq, encodeMessage(op, data)), written);
    return this.seq;
  }

  sendPing(ms: number = Date.now()): void {
    this.write(encodePing(ms));
  }

  get open(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  private write(frame: Buffer, written?: () => void): boolean {
    if (!this.open) {
      written?.();
      return false;
    }
    const ok = this.socket.write(frame, written && (() => written()));
    if (!ok && this.socket.writableLength > MAX_UNSENT_BYTES) {
      this.fail(`peer is not reading (over ${MAX_UNSENT_BYTES} bytes unsent)`);
    }
    return ok;
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    // Batch the ACKs and answers produced by one chunk into one write.
    this.socket.cork();
    try {
      for (const frame of this.decoder.push(chunk)) {
        if (frame.type === 'normal') {
          this.write(encodeAck(frame.seq));
          const { op, data } = decodeMessage(frame.body);
          this.handlers.onMessage(op, data);
          if (this.failed) return;
        } else if (frame.type === 'ping') {
          if (this.answerPings) this.write(encodePong(frame.ms));
        } else if (frame.type === 'pong') {
          this.handlers.onPong?.(frame.ms);
        }
        // ACKs need no action: delivery is TCP's job, the ACK is kept for the 2017 peers that expect it.
      }
    } catch (err) {
      if (!(err instanceof SignalFrameError)) throw err;
      this.fail(err.message);
    } finally {
      this.socket.uncork();
    }
  }

  /** Closes the connection for a protocol violation (once). */
  fail(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.handlers.onProtocolError(reason);
    this.socket.destroy();
  }
}
