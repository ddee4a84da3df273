// What the meter hands the ledger (docs/metering.md, Ledger): a record per direction, peer and route when its
// counts or receipt changed since the last one, written once a second as one batch, the batches in order.
import type { Logger } from '../../util/log.js';
import { HOUR_MS, type LedgerRecord, type LedgerStore } from './ledger.js';

/** Something written as a record: its last written stamp (counts and receipt seq). */
export interface Stamped {
  persisted: string;
}

export class LedgerWriter {
  private pending: LedgerRecord[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly ledger: LedgerStore | undefined,
    private readonly log: Logger,
  ) {}

  /** Queues a record of `of` when `stamp` differs from the last one written (or `force`). */
  add(of: Stamped, stamp: string, rec: Omit<LedgerRecord, 'hour' | 'lastMs'>, now: number, force = false): void {
    if (!force && stamp === of.persisted) return;
    of.persisted = stamp;
    if (this.ledger) this.pending.push({ ...rec, hour: Math.floor(now / HOUR_MS) * HOUR_MS, lastMs: now });
  }

  /** Writes what was queued as one batch, after the batches before it. */
  flush(): Promise<void> {
    const ledger = this.ledger;
    const batch = this.pending;
    this.pending = [];
    if (!ledger || !batch.length) return this.writing;
    this.writing = this.writing
      .then(() => ledger.write(batch))
      .catch((err: Error) => this.log.warn('metering ledger write failed', { err: err.message, records: batch.length }));
    return this.writing;
  }
}
