// Chat history on disk (LevelDB). Every write is `sync`, so what the UI was told is stored survives a
// kill -9. Keys (all strings, JSON values):
//   c!<pk>                 contact {pk, nickname, addedAt}
//   m!<pk>!<seq>           message, in arrival order per conversation (seq = 16-digit local counter)
//   i!<pk>!<id>            -> "m!<pk>!<seq>" (find a message by its id: dedupe and status updates)
//   o!<pk>!<seq>           outbox: our messages to <pk> not yet acknowledged as delivered
import { ClassicLevel } from 'classic-level';

export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'read';

export interface ChatMessage {
  id: string;
  peer: string; // the other side's public key (hex)
  dir: 'in' | 'out';
  text: string;
  ts: number; // sender's clock (ms)
  status: MessageStatus; // for 'in': 'delivered' until read by us, then 'read'
}

export interface Contact {
  pk: string;
  nickname: string;
  addedAt: number;
}

const SYNC = { sync: true } as const;
const RANK: Record<MessageStatus, number> = { queued: 0, sent: 1, delivered: 2, read: 3 };

export class ChatStore {
  private readonly db: ClassicLevel<string, string>;
  private seq = 0;

  constructor(dir: string) {
    this.db = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8' });
  }

  async open(): Promise<void> {
    try {
      await this.db.open();
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      throw new Error(`cannot open chat history in ${this.db.location}: ${cause?.message ?? (err as Error).message}`, { cause: err });
    }
    // Time-based sequence, so messages also keep their order across restarts.
    this.seq = Date.now() * 1000;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private nextSeq(): string {
    this.seq = Math.max(this.seq + 1, Date.now() * 1000);
    return String(this.seq).padStart(19, '0');
  }

  async contacts(): Promise<Contact[]> {
    const out: Contact[] = [];
    for await (const v of this.db.values({ gt: 'c!', lt: 'c!~' })) out.push(JSON.parse(v) as Contact);
    return out;
  }

  async contact(pk: string): Promise<Contact | undefined> {
    const v = await this.db.get(`c!${pk}`);
    return v === undefined ? undefined : (JSON.parse(v) as Contact);
  }

  async putContact(c: Contact): Promise<void> {
    await this.db.put(`c!${c.pk}`, JSON.stringify(c), SYNC);
  }

  async removeContact(pk: string): Promise<void> {
    await this.db.del(`c!${pk}`, SYNC);
  }

  async hasMessage(peer: string, id: string): Promise<boolean> {
    return (await this.db.get(`i!${peer}!${id}`)) !== undefined;
  }

  /** Stores a new message; an outgoing one also goes to the outbox, in the same atomic write. */
  async addMessage(m: ChatMessage): Promise<void> {
    const key = `m!${m.peer}!${this.nextSeq()}`;
    const batch = this.db.batch().put(key, JSON.stringify(m)).put(`i!${m.peer}!${m.id}`, key);
    if (m.dir === 'out') batch.put(`o!${m.peer}!${key.slice(key.lastIndexOf('!') + 1)}`, m.id);
    await batch.write(SYNC);
  }

  /** Raises a message's status (never lowers it); returns the updated message if it changed. */
  async raiseStatus(peer: string, id: string, status: MessageStatus): Promise<ChatMessage | undefined> {
    const key = await this.db.get(`i!${peer}!${id}`);
    if (key === undefined) return undefined;
    const raw = await this.db.get(key);
    if (raw === undefined) return undefined;
    const m = JSON.parse(raw) as ChatMessage;
    if (RANK[status] <= RANK[m.status]) return undefined;
    m.status = status;
    const batch = this.db.batch().put(key, JSON.stringify(m));
    if (m.dir === 'out' && RANK[status] >= RANK.delivered) batch.del(`o!${peer}!${key.slice(key.lastIndexOf('!') + 1)}`);
    await batch.write(SYNC);
    return m;
  }

  async history(peer: string, limit = 500): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    for await (const v of this.db.values({ gt: `m!${peer}!`, lt: `m!${peer}!~`, reverse: true, limit })) {
      out.push(JSON.parse(v) as ChatMessage);
    }
    return out.reverse();
  }

  /** Our undelivered messages to `peer`, oldest first. */
  async outbox(peer: string): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    for await (const k of this.db.keys({ gt: `o!${peer}!`, lt: `o!${peer}!~` })) {
      const raw = await this.db.get(`m!${peer}!${k.slice(k.lastIndexOf('!') + 1)}`);
      if (raw !== undefined) out.push(JSON.parse(raw) as ChatMessage);
      else await this.db.del(k, SYNC); // a dangling outbox entry: drop it
    }
    return out;
  }

  /** Peers that have something in the outbox. */
  async pendingPeers(): Promise<string[]> {
    const peers = new Set<string>();
    for await (const k of this.db.keys({ gt: 'o!', lt: 'o!~' })) peers.add(k.split('!')[1]);
    return [...peers];
  }

  /** Incoming messages from `peer` not yet read by us. */
  async unread(peer: string): Promise<ChatMessage[]> {
    return (await this.history(peer, 10_000)).filter((m) => m.dir === 'in' && m.status !== 'read');
  }
}
