// One signal connection, shared by server and client: frames in and out, an ACK for every NORMAL received,
// a PONG for every PING when asked to, and outgoing sequence numbers. Anything malformed closes the socket.

import type { Socket } from 'node:net';
import { SignalFrameError } from './errors.js';
import { FrameDecoder, decodeMessage, encodeAck, encodeMessage, encodeNormal, encodePing, encodePong, nextSeq } from './frames.js';

/**
 * A peer that lets this much of our output pile up unread is not reading: it is dropped, not buffered for.
 * Both bytes and writes count: each queued write costs a few hundred bytes of bookkeeping whatever its size, so
 * a 9-byte PONG per write let 1 MiB of PONGs hold ~20 MB (issue 17). The answers to one incoming chunk go out as
 * one write, so a peer that reads its answers never comes near either cap.
 */
export const MAX_UNSENT_BYTES = 256 * 1024;
export const MAX_UNSENT_WRITES = 256;

export interface ConnectionHandlers {
  onMessage(op: number, data: unknown): void;
  /** Called once, just before the socket is destroyed for breaking the protocol. */
  onProtocolError(reason: string): void;
  onPong?(ms: bigint): void;
}

/** What waits in this process for the peer to read: bytes and separate writes (each write costs memory too). */
export interface QueuedOutput {
  bytes: number;
  writes: number;
}

export class SignalConnection {
  private seq = 0;
  private readonly decoder = new FrameDecoder();
  private failed = false;
  private queuedWrites = 0;
  /** While a received chunk is handled, what it makes us send is gathered here and written once. */
  private batch: { frames: Buffer[]; written: Array<() => void> } | undefined;
  /** The most output ever queued at once on this connection (for tests and diagnostics). */
  readonly peakQueued: QueuedOutput = { bytes: 0, writes: 0 };

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

  private write(frame: Buffer, written?: () => void): void {
    if (!this.open || this.failed) {
      written?.();
      return;
    }
    if (this.batch) {
      this.batch.frames.push(frame);
      if (written) this.batch.written.push(written);
      return;
    }
    this.queuedWrites++;
    this.socket.write(frame, () => {
      this.queuedWrites--;
      written?.();
    });
    const bytes = this.socket.writableLength;
    this.peakQueued.bytes = Math.max(this.peakQueued.bytes, bytes);
    this.peakQueued.writes = Math.max(this.peakQueued.writes, this.queuedWrites);
    if (bytes > MAX_UNSENT_BYTES || this.queuedWrites > MAX_UNSENT_WRITES) {
      this.fail(`peer is not reading (${bytes} bytes in ${this.queuedWrites} writes unsent)`);
    }
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    const batch: { frames: Buffer[]; written: Array<() => void> } = { frames: [], written: [] };
    this.batch = batch;
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
      this.batch = undefined;
      const { frames, written } = batch;
      if (frames.length) {
        this.write(frames.length === 1 ? frames[0] : Buffer.concat(frames), written.length ? () => written.forEach((w) => w()) : undefined);
      } else written.forEach((w) => w());
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
