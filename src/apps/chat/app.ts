// Sky-Messenger chat: contacts by public key, messages end-to-end encrypted over the messenger's
// datagrams, delivery and read acks, an on-disk outbox retried until the contact acknowledges.
//
// Delivery is at-least-once with dedupe by message id: a message stays in the outbox until a
// "delivered" ack comes back; it is re-sent when the contact shows it is alive (any datagram from it,
// e.g. the "hello" every chat sends its contacts at start) and otherwise on a per-contact backoff.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { Backoff } from '../../util/backoff.js';
import { createLogger } from '../../util/log.js';
import { deriveChatKey, openDatagram, sealDatagram } from './crypto.js';
import type { ChatMessage, ChatStore, Contact } from './store.js';

const log = createLogger('chat');

/** Longest message text, in UTF-8 bytes (keeps a sealed datagram well under the messenger's limit). */
export const MAX_TEXT_BYTES = 8 * 1024;
export const MAX_NICKNAME = 64;

/** What the chat needs from a messenger client (MessengerClient fits as it is). */
// Events used: 'datagram' (from: string, data: Buffer), 'connected', 'disconnected'.
export interface ChatTransport extends Pick<EventEmitter, 'on' | 'off'> {
  send(pk: string, data: Buffer): Promise<void>;
}

export interface ChatKeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}

type Payload =
  | { t: 'msg'; id: string; ts: number; text: string }
  | { t: 'ack'; s: 'delivered' | 'read'; ids: string[] }
  | { t: 'hello' };

/** A contact's public key as typed by a user: 66 hex characters, a point on secp256k1. */
export function parseContactKey(text: string): string {
  const hex = text.trim().toLowerCase();
  if (!/^[0-9a-f]{66}$/.test(hex)) {
    throw new Error(`"${text.trim().slice(0, 80)}" is not a public key: expected 66 hex characters (33-byte compressed secp256k1)`);
  }
  try {
    secp256k1.Point.fromHex(hex);
  } catch {
    throw new Error(`"${hex}" is not a valid secp256k1 public key (not a point on the curve)`);
  }
  return hex;
}

const ID_RE = /^[0-9a-f]{8,64}$/;

function parsePayload(buf: Buffer): Payload | undefined {
  let p: unknown;
  try {
    p = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof p !== 'object' || p === null) return undefined;
  const o = p as Record<string, unknown>;
  if (o.t === 'msg' && typeof o.id === 'string' && ID_RE.test(o.id) && typeof o.ts === 'number' &&
      typeof o.text === 'string' && Buffer.byteLength(o.text) <= MAX_TEXT_BYTES) {
    return { t: 'msg', id: o.id, ts: o.ts, text: o.text };
  }
  if (o.t === 'ack' && (o.s === 'delivered' || o.s === 'read') && Array.isArray(o.ids) && o.ids.length <= 1000 &&
      o.ids.every((x) => typeof x === 'string' && ID_RE.test(x))) {
    return { t: 'ack', s: o.s, ids: o.ids as string[] };
  }
  if (o.t === 'hello') return { t: 'hello' };
  return undefined;
}

export interface ChatAppEvents {
  contact: [Contact];
  message: [ChatMessage];
  status: [ChatMessage];
  online: [boolean];
}

interface RetryState {
  backoff: Backoff;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  again?: boolean;
  failed?: boolean; // the last attempt could not hand everything to the messenger
}

export class ChatApp extends EventEmitter<ChatAppEvents> {
  readonly pk: string;
  private readonly keys = new Map<string, Buffer>();
  private readonly retry = new Map<string, RetryState>();
  private closed = false;
  online = false;
  private readonly onDatagram = (from: string, data: Buffer) => void this.receive(String(from), data);
  private readonly onConnected = () => {
    this.online = true;
    this.emit('online', true);
    void this.flushAll();
  };
  private readonly onDisconnected = () => {
    this.online = false;
    this.emit('online', false);
  };

  constructor(
    private readonly o: {
      key: ChatKeyPair;
      transport: ChatTransport;
      store: ChatStore;
      retry?: { initialMs?: number; maxMs?: number };
    },
  ) {
    super();
    this.pk = o.key.publicKey.toString('hex');
  }

  /** Subscribes to the transport, sends what is pending and tells contacts we are back. */
  async start(online: boolean): Promise<void> {
    this.o.transport.on('datagram', this.onDatagram);
    this.o.transport.on('connected', this.onConnected);
    this.o.transport.on('disconnected', this.onDisconnected);
    this.online = online;
    if (online) await this.announceOnline();
  }

  /** Flushes every outbox and greets every contact (so they flush theirs to us). */
  async announceOnline(): Promise<void> {
    await this.flushAll();
    for (const c of await this.o.store.contacts()) {
      this.sendPayload(c.pk, { t: 'hello' }).catch(() => undefined); // offline contacts are fine
    }
  }

  close(): void {
    this.closed = true;
    this.o.transport.off('datagram', this.onDatagram);
    this.o.transport.off('connected', this.onConnected);
    this.o.transport.off('disconnected', this.onDisconnected);
    for (const r of this.retry.values()) clearTimeout(r.timer);
  }

  contacts(): Promise<Contact[]> {
    return this.o.store.contacts();
  }

  history(peer: string): Promise<ChatMessage[]> {
    return this.o.store.history(parseContactKey(peer));
  }

  async unreadCount(peer: string): Promise<number> {
    return (await this.o.store.unread(peer)).length;
  }

  async addContact(pkText: string, nickname: string): Promise<Contact> {
    const pk = parseContactKey(pkText);
    if (pk === this.pk) throw new Error('that is your own public key');
    const nick = nickname.trim();
    if (nick.length > MAX_NICKNAME) throw new Error(`nickname is longer than ${MAX_NICKNAME} characters`);
    const old = await this.o.store.contact(pk);
    const c: Contact = { pk, nickname: nick, addedAt: old?.addedAt ?? Date.now() };
    await this.o.store.putContact(c);
    this.emit('contact', c);
    this.sendPayload(pk, { t: 'hello' }).catch(() => undefined);
    return c;
  }

  /** Stores the message (durably) and then tries to send it; it stays queued until delivered. */
  async send(peerText: string, text: string): Promise<ChatMessage> {
    const peer = parseContactKey(peerText);
    if (!text.trim()) throw new Error('empty message');
    if (Buffer.byteLength(text) > MAX_TEXT_BYTES) throw new Error(`message is longer than ${MAX_TEXT_BYTES} bytes`);
    if (!(await this.o.store.contact(peer))) await this.addContact(peer, '');
    const m: ChatMessage = { id: randomBytes(12).toString('hex'), peer, dir: 'out', text, ts: Date.now(), status: 'queued' };
    await this.o.store.addMessage(m);
    this.emit('message', m);
    this.flush(peer);
    return m;
  }

  /** Marks every incoming message from `peer` read and tells the peer. */
  async markRead(peerText: string): Promise<void> {
    const peer = parseContactKey(peerText);
    const ids: string[] = [];
    for (const m of await this.o.store.unread(peer)) {
      const up = await this.o.store.raiseStatus(peer, m.id, 'read');
      if (up) {
        ids.push(up.id);
        this.emit('status', up);
      }
    }
    if (ids.length) this.sendPayload(peer, { t: 'ack', s: 'read', ids }).catch(() => undefined);
  }

  private key(peer: string): Buffer {
    let k = this.keys.get(peer);
    if (!k) {
      k = deriveChatKey(this.o.key.secretKey, this.o.key.publicKey, Buffer.from(peer, 'hex'));
      this.keys.set(peer, k);
    }
    return k;
  }

  private sendPayload(peer: string, p: Payload): Promise<void> {
    const sealed = sealDatagram(this.key(peer), this.o.key.publicKey, Buffer.from(peer, 'hex'), Buffer.from(JSON.stringify(p)));
    return this.o.transport.send(peer, sealed);
  }

  private async receive(from: string, data: Buffer): Promise<void> {
    if (this.closed) return;
    let peer: string;
    let p: Payload | undefined;
    try {
      peer = parseContactKey(from);
      p = parsePayload(openDatagram(this.key(peer), Buffer.from(peer, 'hex'), this.o.key.publicKey, data));
    } catch (err) {
      log.debug('dropped datagram', { from: String(from).slice(0, 16), err });
      return;
    }
    if (!p) {
      log.debug('dropped malformed chat payload', { from: peer.slice(0, 16) });
      return;
    }
    try {
      const r = this.retry.get(peer);
      if (p.t === 'msg') await this.receiveMessage(peer, p);
      else if (p.t === 'ack') {
        for (const id of p.ids) {
          const up = await this.o.store.raiseStatus(peer, id, p.s);
          if (up) this.emit('status', up);
        }
        if (r && !r.running && (await this.o.store.outbox(peer)).length === 0) {
          clearTimeout(r.timer);
          r.backoff.reset();
        }
      }
      // A peer that says hello has (re)started and may have lost what was in flight; any message from a
      // peer we failed to reach shows it is reachable again. Either way: send what waits for it now.
      if (p.t === 'hello' || (p.t === 'msg' && r?.failed)) {
        r?.backoff.reset();
        this.flush(peer);
      }
    } catch (err) {
      log.warn('could not store an incoming chat datagram', { err });
    }
  }

  private async receiveMessage(peer: string, p: { id: string; ts: number; text: string }): Promise<void> {
    if (!(await this.o.store.contact(peer))) {
      const c: Contact = { pk: peer, nickname: '', addedAt: Date.now() };
      await this.o.store.putContact(c);
      this.emit('contact', c);
    }
    if (!(await this.o.store.hasMessage(peer, p.id))) {
      const m: ChatMessage = { id: p.id, peer, dir: 'in', text: p.text, ts: p.ts, status: 'delivered' };
      await this.o.store.addMessage(m); // on disk before we acknowledge it
      this.emit('message', m);
    }
    // Acked every time, duplicates too: the first ack may have been lost.
    await this.sendPayload(peer, { t: 'ack', s: 'delivered', ids: [p.id] }).catch(() => undefined);
  }

  private async flushAll(): Promise<void> {
    for (const peer of await this.o.store.pendingPeers()) this.flush(peer);
  }

  /** Sends the outbox of `peer` (one run at a time per peer); reschedules itself while anything is left. */
  private flush(peer: string): void {
    if (this.closed) return;
    let r = this.retry.get(peer);
    if (!r) {
      r = { backoff: new Backoff({ initialMs: this.o.retry?.initialMs ?? 1000, maxMs: this.o.retry?.maxMs ?? 30_000 }) };
      this.retry.set(peer, r);
    }
    const state = r;
    if (state.running) {
      state.again = true;
      return;
    }
    clearTimeout(state.timer);
    state.running = (async () => {
      let pending = 0;
      state.failed = false;
      try {
        for (const m of await this.o.store.outbox(peer)) {
          pending++;
          await this.sendPayload(peer, { t: 'msg', id: m.id, ts: m.ts, text: m.text });
          const up = await this.o.store.raiseStatus(peer, m.id, 'sent');
          if (up) this.emit('status', up);
        }
      } catch (err) {
        state.failed = true;
        log.debug('chat send failed, will retry', { peer: peer.slice(0, 16), err });
      }
      return pending;
    })().then((pending) => {
      state.running = undefined;
      if (this.closed) return;
      if (state.again) {
        state.again = false;
        this.flush(peer);
      } else if (pending > 0) {
        // Unacknowledged (or unsent) messages: try again later in case the ack or the peer got lost.
        state.timer = setTimeout(() => this.flush(peer), state.backoff.next());
        state.timer.unref();
      } else {
        state.backoff.reset();
      }
    });
  }
}
