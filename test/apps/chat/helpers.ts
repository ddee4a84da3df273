// Shared by the chat tests: a real `skywire chat` process, its websocket API, and peers that talk to it through a
// real messenger with their own keys (sealing datagrams as any chat would, or sending whatever a hostile peer
// would).
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { compiled, startProc, type Proc } from '../../web/helpers.js';
import { generateKeyPair, type KeyPair } from '../../../src/net/keys.js';
import { MessengerClient, parseMessengerAddress } from '../../../src/messenger/index.js';
import { deriveChatKey, openDatagram, sealDatagram } from '../../../src/apps/chat/crypto.js';

export { startMessenger } from '../../web/helpers.js';

export const SKYWIRE = compiled('src/cli/skywire.js');

/** A messenger address nothing listens on: the chat then runs offline (its UI and store still work). */
export const deadMessenger = (): string => `${generateKeyPair().publicKey.toString('hex')}@127.0.0.1:1`;

export interface Chat {
  proc: Proc;
  pk: string;
  url: string;
}

export function chatArgs(dir: string, name: string, messenger: string, data = join(dir, `${name}-history`)): string[] {
  return [SKYWIRE, 'chat', '--key', join(dir, `${name}.key`), '--messenger', messenger, '--data', data];
}

export async function startChat(t: TestContext, dir: string, name: string, messenger: string, o: { data?: string; online?: boolean } = {}): Promise<Chat> {
  const proc = startProc(t, chatArgs(dir, name, messenger, o.data), { SIGNAL_CLIENT: 'false' });
  const [, pk] = await proc.waitFor(/you are ([0-9a-f]{66})/);
  const [, url] = await proc.waitFor(/open (http:\S+)/);
  if (o.online) await proc.waitFor(/connected to the messenger/);
  return { proc, pk, url };
}

export type Json = Record<string, unknown> & { type: string };

/**
 * Resolves with what `find` returns once it returns something, checking now and each time `waiters` are called
 * (on every new message); rejects with `timeoutError()` after `timeoutMs`.
 */
function firstFound<T>(waiters: Set<() => void>, find: () => T | undefined, timeoutError: () => Error, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = find();
      if (m) done(() => resolve(m));
    };
    const timer = setTimeout(() => done(() => reject(timeoutError())), timeoutMs);
    const done = (f: () => void) => {
      clearTimeout(timer);
      waiters.delete(check);
      f();
    };
    waiters.add(check);
    check();
  });
}

/** The page's websocket: every message kept, so a wait sees past and future ones. */
export class ChatSocket {
  readonly seen: Json[] = [];
  private waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.seen.push(JSON.parse(d.toString()) as Json);
      for (const w of this.waiters) w();
    });
  }

  static async open(t: TestContext, url: string): Promise<ChatSocket> {
    const u = new URL(url);
    const ws = new WebSocket(`ws://${u.host}/ws?token=${u.searchParams.get('token')}`);
    t.after(() => ws.close());
    // Listening before 'open': the first message (init) can arrive in the same read as the upgrade answer.
    const socket = new ChatSocket(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return socket;
  }

  send(m: Json): void {
    this.ws.send(JSON.stringify(m));
  }

  /** The first message (from `from` on) that matches; rejects after `timeoutMs`. */
  waitFor(pred: (m: Json) => boolean, what: string, timeoutMs = 15_000, from = 0): Promise<Json> {
    return firstFound(
      this.waiters,
      () => this.seen.slice(from).find(pred),
      () => new Error(`timed out waiting for ${what}; last: ${JSON.stringify(this.seen.at(-1))?.slice(0, 400)}`),
      timeoutMs,
    );
  }

  /** The next message after everything seen so far that matches. */
  next(pred: (m: Json) => boolean, what: string, timeoutMs?: number): Promise<Json> {
    return this.waitFor(pred, what, timeoutMs, this.seen.length);
  }
}

/** Someone on the messenger with their own key, speaking the chat's wire format to `chatPk` (or anything else). */
export class Peer {
  readonly key: KeyPair = generateKeyPair();
  readonly client: MessengerClient;
  readonly received: Array<Record<string, unknown>> = [];
  private waiters = new Set<() => void>();

  constructor(messenger: string, private readonly chatPk: string) {
    this.client = new MessengerClient({ localKey: this.key, messengers: [parseMessengerAddress(messenger)] });
    const k = this.pairKey();
    this.client.on('datagram', (from: string, data: Buffer) => {
      if (String(from) !== chatPk) return;
      try {
        this.received.push(JSON.parse(openDatagram(k, Buffer.from(chatPk, 'hex'), this.key.publicKey, data).toString()) as Record<string, unknown>);
      } catch {
        return;
      }
      for (const w of this.waiters) w();
    });
  }

  get pk(): string {
    return this.key.publicKey.toString('hex');
  }

  private pairKey(): Buffer {
    return deriveChatKey(this.key.secretKey, this.key.publicKey, Buffer.from(this.chatPk, 'hex'));
  }

  start(): Promise<void> {
    return this.client.start();
  }

  /** Seals any plaintext (well-formed or not) for the chat, as a chat peer would. */
  sendPlain(plaintext: string | Buffer): Promise<void> {
    const to = Buffer.from(this.chatPk, 'hex');
    return this.client.send(to, sealDatagram(this.pairKey(), this.key.publicKey, to, Buffer.from(plaintext)));
  }

  sendRaw(data: Buffer): Promise<void> {
    return this.client.send(Buffer.from(this.chatPk, 'hex'), data);
  }

  sendMessage(id: string, text: string, ts = Date.now()): Promise<void> {
    return this.sendPlain(JSON.stringify({ t: 'msg', id, ts, text }));
  }

  waitFor(pred: (p: Record<string, unknown>) => boolean, what: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return firstFound(
      this.waiters,
      () => this.received.find(pred),
      () => new Error(`peer timed out waiting for ${what}: ${JSON.stringify(this.received)}`),
      timeoutMs,
    );
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
