// The ledger on its own thread (docs/metering.md, Ledger): a node's LevelDB is opened in a worker, not on the
// node's main thread. Measured: with LevelDB open on the main thread, a forwarding node ran 3-9x the major
// garbage collections of one without it (and lost throughput to them); opened in a worker, about as few as
// without. `LedgerThread` has the Ledger's interface; each call is a message to the worker and its answer.
import { Worker } from 'node:worker_threads';
import type { LedgerRecord, LedgerStore } from './ledger.js';

type Op = 'open' | 'close' | 'write' | 'records' | 'compact';
interface Answer {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export class LedgerThread implements LedgerStore {
  private worker: Worker | undefined;
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(
    readonly dir: string,
    private readonly retentionMs?: number,
  ) {}

  private call<T>(op: Op, ...args: unknown[]): Promise<T> {
    const w = this.worker;
    if (!w) return Promise.reject(new Error(`the metering ledger in ${this.dir} is not open`));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ id, op, args });
    });
  }

  private fail(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.worker = undefined;
  }

  async open(): Promise<void> {
    const w = new Worker(new URL('./ledger-worker.js', import.meta.url), { workerData: { dir: this.dir, retentionMs: this.retentionMs } });
    this.worker = w;
    w.on('message', (a: Answer) => {
      const p = this.waiting.get(a.id);
      if (!p) return;
      this.waiting.delete(a.id);
      if (a.ok) p.resolve(a.result);
      else p.reject(new Error(a.error));
    });
    w.on('error', (err: Error) => this.fail(err));
    w.on('exit', (code) => this.fail(new Error(`the metering ledger's thread exited (code ${code})`)));
    try {
      await this.call('open');
    } catch (err) {
      await w.terminate();
      throw err;
    }
  }

  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    await this.call('close').catch(() => undefined);
    this.worker = undefined;
    await w.terminate();
  }

  write(records: LedgerRecord[]): Promise<void> {
    return records.length ? this.call('write', records) : Promise.resolve();
  }

  records(fromMs?: number, toMs?: number): Promise<LedgerRecord[]> {
    return this.call('records', fromMs, toMs);
  }

  compact(now?: number, afterMs?: number): Promise<number> {
    return this.call('compact', now, afterMs);
  }
}
