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
/** Strangers (keys not in the contacts) whose messages are held for the user to accept; the oldest goes first. */
export const MAX_REQUESTS = 50;
/** Messages held per stranger: its first ones (the sender keeps the rest in its outbox until accepted). */
export const MAX_REQUEST_MESSAGES = 5;
/** Derived pair keys cached (contacts and recent strangers); beyond it the oldest is derived again when needed. */
const MAX_CACHED_KEYS = 1024;
/** Datagrams waiting to be handled (one at a time, in arrival order); beyond it new ones are dropped. */
const MAX_INBOX = 1000;

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

/** A peer's datagram plaintext, checked for shape: anything else (null, an array, wrong types) is undefined. */
export function parsePayload(buf: Buffer): Payload | undefined {
  let p: unknown;
  try {
    p = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return undefined;
  const o = p as Record<string, unknown>;
  if (o.t === 'msg' && typeof o.id === 'string' && ID_RE.test(o.id) && typeof o.ts === 'number' && Number.isFinite(o.ts) &&
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

/**
 * Messages from a key that is not a contact: held in memory (bounded) until the user accepts the key as a
 * contact or ignores it. They are not acknowledged, so the sender keeps them queued and re-sends them once
 * accepted; a stranger can therefore neither add itself to the contacts nor grow the history or memory.
 */
export interface ContactRequest {
  pk: string;
  firstAt: number;
  lastAt: number;
  messages: ChatMessage[];
  /** Further distinct messages not held (over MAX_REQUEST_MESSAGES). */
  dropped: number;
}

/** What the request list holds, for the UI and for checking its bounds. */
export interface RequestStats {
  requests: number;
  messages: number;
  textBytes: number;
  /** Requests pushed out by newer ones since start. */
  droppedRequests: number;
  /** Datagrams from ignored keys dropped since start. */
  ignoredDatagrams: number;
}

export interface ChatAppEvents {
  contact: [Contact];
  message: [ChatMessage];
  status: [ChatMessage];
  online: [boolean];
  requests: [];
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
  private readonly requestList = new Map<string, ContactRequest>(); // insertion order: oldest first
  private droppedRequests = 0;
  private ignoredDatagrams = 0;
  private closed = false;
  online = false;
  // One datagram at a time, in arrival order (a peer's messages and acks keep their order through the store).
  private inbox: Promise<void> = Promise.resolve();
  private inboxLength = 0;
  private readonly onDatagram = (from: string, data: Buffer) => {
    if (this.inboxLength >= MAX_INBOX) {
      log.debug('inbox full, datagram dropped', { from: String(from).slice(0, 16) });
      return;
    }
    this.inboxLength++;
    this.inbox = this.inbox
      .then(() => this.receive(String(from), data))
      .catch((err: Error) => log.warn('could not handle a chat datagram', { err }))
      .finally(() => void this.inboxLength--);
  };
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

  requests(): ContactRequest[] {
    return [...this.requestList.values()];
  }

  requestStats(): RequestStats {
    let messages = 0;
    let textBytes = 0;
    for (const r of this.requestList.values()) {
      messages += r.messages.length;
      for (const m of r.messages) textBytes += Buffer.byteLength(m.text);
    }
    return { requests: this.requestList.size, messages, textBytes, droppedRequests: this.droppedRequests, ignoredDatagrams: this.ignoredDatagrams };
  }

  /** Accepting a request makes the key a contact, with the messages it held (acknowledged now). */
  accept(pkText: string, nickname = ''): Promise<Contact> {
    return this.addContact(pkText, nickname);
  }

  /** Drops a request and every later datagram from that key (until the user adds it as a contact). */
  async ignore(pkText: string): Promise<void> {
    const pk = parseContactKey(pkText);
    if (await this.o.store.contact(pk)) throw new Error('that key is a contact, not a request');
    await this.o.store.putIgnored(pk);
    if (this.requestList.delete(pk)) this.emit('requests');
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
    await this.o.store.removeIgnored(pk);
    this.emit('contact', c);
    const req = this.requestList.get(pk);
    if (req) {
      this.requestList.delete(pk);
      this.emit('requests');
      for (const m of req.messages) await this.storeIncoming(pk, m);
      if (req.messages.length) this.sendPayload(pk, { t: 'ack', s: 'delivered', ids: req.messages.map((m) => m.id) }).catch(() => undefined);
    }
    // Hello also makes the other side re-send what it still queues for us (e.g. messages not held as a request).
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
      if (this.keys.size >= MAX_CACHED_KEYS) this.keys.delete(this.keys.keys().next().value!);
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
      if (!(await this.o.store.contact(peer))) {
        // A stranger: its messages become a request; its hellos and acks mean nothing to us.
        if (p.t === 'msg') await this.receiveRequest(peer, p);
        return;
      }
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
    await this.storeIncoming(peer, { id: p.id, peer, dir: 'in', text: p.text, ts: p.ts, status: 'delivered' });
    // Acked every time, duplicates too: the first ack may have been lost.
    await this.sendPayload(peer, { t: 'ack', s: 'delivered', ids: [p.id] }).catch(() => undefined);
  }

  /** Stores an incoming message unless it is already there (on disk before anyone acknowledges it). */
  private async storeIncoming(peer: string, m: ChatMessage): Promise<void> {
    if (await this.o.store.hasMessage(peer, m.id)) return;
    await this.o.store.addMessage(m);
    this.emit('message', m);
  }

  private async receiveRequest(peer: string, p: { id: string; ts: number; text: string }): Promise<void> {
    if (await this.o.store.isIgnored(peer)) {
      this.ignoredDatagrams++;
      this.emit('requests'); // the count changed (the page coalesces these)
      return;
    }
    const now = Date.now();
    let r = this.requestList.get(peer);
    if (!r) {
      if (this.requestList.size >= MAX_REQUESTS) {
        this.requestList.delete(this.requestList.keys().next().value!);
        this.droppedRequests++;
      }
      r = { pk: peer, firstAt: now, lastAt: now, messages: [], dropped: 0 };
      this.requestList.set(peer, r);
    }
    r.lastAt = now;
    if (r.messages.some((m) => m.id === p.id)) return; // the sender's retry of a message we hold
    if (r.messages.length >= MAX_REQUEST_MESSAGES) r.dropped++;
    else r.messages.push({ id: p.id, peer, dir: 'in', text: p.text, ts: p.ts, status: 'delivered' });
    this.emit('requests');
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
