// Chat history on disk (LevelDB). Every write is `sync`, so what the UI was told is stored survives a
// kill -9. Keys (all strings, JSON values):
//   c!<pk>                 contact {pk, nickname, addedAt}
//   m!<pk>!<seq>           message, in arrival order per conversation (seq = 16-digit local counter)
//   i!<pk>!<id>            -> "m!<pk>!<seq>" (find a message by its id: dedupe and status updates)
//   o!<pk>!<seq>           outbox: our messages to <pk> not yet acknowledged as delivered
//   x!<pk>                 a key the user ignored {pk, ignoredAt}
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * Creates the history directory 0700, or checks that an existing one is private: like a key file, a store
 * that group or others can open is refused with the command that fixes it (never silently changed, since
 * others may already have read it and the user should know).
 */
export function checkPrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir); // a symlinked directory is judged by what it points to
  if (!st.isDirectory()) throw new Error(`chat history ${dir} is not a directory`);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    const octal = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new Error(`chat history directory ${dir} is open to group/others (mode ${octal}); fix it with: chmod 700 ${dir}`);
  }
}
const RANK: Record<MessageStatus, number> = { queued: 0, sent: 1, delivered: 2, read: 3 };

export class ChatStore {
  // Made in open(): a ClassicLevel opens itself as soon as it is constructed, before the directory is checked.
  private db!: ClassicLevel<string, string>;
  private seq = 0;

  constructor(private readonly dir: string) {}

  async open(): Promise<void> {
    const { dir } = this;
    checkPrivateDir(dir);
    // The history is plaintext: every file LevelDB creates is 0600 (umask), and files an older version
    // created 0644 are tightened before the first read.
    const umask = process.umask(0o077);
    try {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (lstatSync(p).isFile()) chmodSync(p, 0o600); // not through symlinks: only the store's own files
      }
      this.db = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8' });
      await this.db.open();
    } catch (err) {
      const cause = (err as { cause?: Error & { code?: string } }).cause;
      const hint = cause?.code === 'LEVEL_LOCKED' ? ' (is another chat already running on it?)' : '';
      throw new Error(`cannot open chat history in ${dir}: ${cause?.message ?? (err as Error).message}${hint}`, { cause: err });
    } finally {
      process.umask(umask);
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

  /** Keys the user chose to ignore (`x!<pk>`): their datagrams are dropped until they are added as contacts. */
  async isIgnored(pk: string): Promise<boolean> {
    return (await this.db.get(`x!${pk}`)) !== undefined;
  }

  async putIgnored(pk: string): Promise<void> {
    await this.db.put(`x!${pk}`, JSON.stringify({ pk, ignoredAt: Date.now() }), SYNC);
  }

  async removeIgnored(pk: string): Promise<void> {
    await this.db.del(`x!${pk}`, SYNC);
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
