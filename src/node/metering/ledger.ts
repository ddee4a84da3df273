// The metering ledger (docs/metering.md, Ledger): one LevelDB per node. A record per direction, neighbour, route
// id and hour holds the cumulative counts at the end of that hour and the latest receipt for them:
//   r!<hour ms, 13 digits>!<o|i>!<peer pk>!<route id, 10 digits>  -> JSON LedgerRecord
// `o` (out): bytes we forwarded to the peer (our claim) and the receipt the peer signed for them;
// `i` (in):  bytes we received from the peer and the receipt we signed for it.
// Writes are batched once per second by the meter and `sync`, so a kill -9 loses at most that second (the
// counts are cumulative: the next receipt covers it). Bounded: one record per route per hour; hours older than
// COMPACT_AFTER_MS are compacted into one record per route per day (the day's last cumulative counts with the
// newest receipt: a signed total that verifies as the hours did, at day granularity), and days older than the
// retention are deleted. Compaction runs at open and hourly, and then LevelDB compacts its files.
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { ClassicLevel } from 'classic-level';
import { parseLinkText } from './chain.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Hourly records older than this are compacted into daily ones. */
export const COMPACT_AFTER_MS = 48 * HOUR_MS;
/** Hours kept by default: 31 days. */
export const DEFAULT_RETENTION_MS = 31 * 24 * HOUR_MS;

/** `route`: a route we own, with its far end's route receipt (route-receipts.ts). */
export type Direction = 'out' | 'in' | 'route';

export interface LedgerRecord {
  dir: Direction;
  peer: string;
  /** The route id the packets carried at the receiving node (the peer for `out`, us for `in`). */
  routeId: number;
  hour: number;
  bytes: number;
  packets: number;
  /** The latest receipt for these counts, hex (206 bytes), when there is one. */
  receipt?: string;
  /** The highest checked link of that receipt's chain, "INDEX:HEX" (chain.ts). */
  link?: string;
  lastMs: number;
}

function key(r: { hour: number; dir: Direction; peer: string; routeId: number }): string {
  const d = r.dir === 'out' ? 'o' : r.dir === 'in' ? 'i' : 'e';
  return `r!${String(r.hour).padStart(13, '0')}!${d}!${r.peer}!${String(r.routeId).padStart(10, '0')}`;
}

function isRecord(v: unknown): v is LedgerRecord {
  const r = v as LedgerRecord;
  return (
    typeof r === 'object' && r !== null &&
    (r.dir === 'out' || r.dir === 'in' || r.dir === 'route') &&
    typeof r.peer === 'string' && /^0[23][0-9a-f]{64}$/.test(r.peer) &&
    Number.isInteger(r.routeId) && Number.isInteger(r.hour) &&
    Number.isSafeInteger(r.bytes) && Number.isSafeInteger(r.packets) && Number.isSafeInteger(r.lastMs) &&
    (r.receipt === undefined || (typeof r.receipt === 'string' && /^[0-9a-f]{412}$/.test(r.receipt))) &&
    (r.link === undefined || (typeof r.link === 'string' && parseLinkText(r.link) !== undefined))
  );
}

/** What the meter, the view and the node use of a ledger (Ledger here, or LedgerThread on a worker). */
export interface LedgerStore {
  readonly dir: string;
  open(): Promise<void>;
  close(): Promise<void>;
  write(records: LedgerRecord[]): Promise<void>;
  records(fromMs?: number, toMs?: number): Promise<LedgerRecord[]>;
  compact(now?: number, afterMs?: number): Promise<number>;
}

export class Ledger implements LedgerStore {
  private db!: ClassicLevel<string, string>;
  /** Records read back that were not a LedgerRecord (a damaged or foreign store): skipped, counted. */
  skipped = 0;

  constructor(
    readonly dir: string,
    private readonly retentionMs = DEFAULT_RETENTION_MS,
  ) {}

  async open(): Promise<void> {
    const { dir } = this;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw new Error(`metering ledger ${dir} is not a directory`);
    // New files 0600 too; a worker cannot set the umask (ledger-thread.ts), there the 0700 directory keeps others out.
    const umask = isMainThread ? process.umask(0o077) : undefined;
    try {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (lstatSync(p).isFile()) chmodSync(p, 0o600);
      }
      // Loaded here, not at the top: a node that meters nothing never loads LevelDB.
      const { ClassicLevel } = await import('classic-level');
      this.db = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8' });
      await this.db.open();
    } catch (err) {
      const cause = (err as { cause?: Error & { code?: string } }).cause;
      const hint = cause?.code === 'LEVEL_LOCKED' ? ' (is another node running with this ledger?)' : '';
      throw new Error(`cannot open the metering ledger in ${dir}: ${cause?.message ?? (err as Error).message}${hint}`, { cause: err });
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
    await this.prune();
    await this.compact();
  }

  async close(): Promise<void> {
    if (this.db?.status === 'open') await this.db.close();
  }

  /** Writes the records in one synced batch. */
  async write(records: LedgerRecord[]): Promise<void> {
    if (!records.length || this.db.status !== 'open') return;
    await this.db.batch(records.map((r) => ({ type: 'put' as const, key: key(r), value: JSON.stringify(r) })), { sync: true });
  }

  /**
   * Records of the hours in [fromMs, toMs), oldest hour first, and a compacted day (keyed by its first hour) whose
   * last write is in or after fromMs's hour.
   */
  async records(fromMs = 0, toMs = Number.MAX_SAFE_INTEGER): Promise<LedgerRecord[]> {
    const out: LedgerRecord[] = [];
    const fromHour = Math.floor(Math.max(0, fromMs) / HOUR_MS) * HOUR_MS;
    const gte = `r!${String(Math.floor(fromHour / DAY_MS) * DAY_MS).padStart(13, '0')}`;
    const lt = `r!${String(Math.min(toMs, 9_999_999_999_999)).padStart(13, '0')}`;
    for await (const v of this.db.values({ gte, lt })) {
      let r: unknown;
      try {
        r = JSON.parse(v);
      } catch {
        r = undefined;
      }
      if (!isRecord(r)) this.skipped++;
      else if (r.hour >= fromHour || r.lastMs >= fromHour) out.push(r);
    }
    return out;
  }

  /**
   * Compacts the hourly records older than `afterMs` into one per direction, peer, route and day (the newest:
   * the counts are cumulative), then lets LevelDB drop what was overwritten or deleted. Returns the records removed.
   */
  async compact(now = Date.now(), afterMs = COMPACT_AFTER_MS): Promise<number> {
    const lt = `r!${String(Math.max(0, Math.floor((now - afterMs) / HOUR_MS) * HOUR_MS)).padStart(13, '0')}`;
    const newest = new Map<string, LedgerRecord>();
    const old: string[] = [];
    for await (const [k, v] of this.db.iterator({ gte: 'r!', lt })) {
      old.push(k);
      let r: unknown;
      try {
        r = JSON.parse(v);
      } catch {
        r = undefined;
      }
      if (!isRecord(r)) continue; // a damaged record goes
      const day = { ...r, hour: Math.floor(r.hour / DAY_MS) * DAY_MS };
      const have = newest.get(key(day));
      if (!have || day.lastMs >= have.lastMs) newest.set(key(day), day);
    }
    const ops = old.filter((k) => !newest.has(k)).map((k) => ({ type: 'del' as const, key: k }));
    const puts = [...newest].map(([k, r]) => ({ type: 'put' as const, key: k, value: JSON.stringify(r) }));
    if (ops.length || puts.length) await this.db.batch([...ops, ...puts], { sync: true });
    await this.db.compactRange('r!', 'r"');
    return ops.length;
  }

  /** Deletes the hours older than the retention. */
  async prune(now = Date.now()): Promise<number> {
    const lt = `r!${String(Math.max(0, now - this.retentionMs)).padStart(13, '0')}`;
    const keys: string[] = [];
    for await (const k of this.db.keys({ gte: 'r!', lt })) keys.push(k);
    if (keys.length) await this.db.batch(keys.map((k) => ({ type: 'del' as const, key: k })), { sync: true });
    return keys.length;
  }
}
