// Chooses the socks-server a socks-client's streams go to: a fixed key (--server PK) or, with
// --server auto, the servers announcing service "socks" (queried through the SDK, cached briefly),
// trying the next one when a dial fails and remembering the one that worked.
import type { Duplex } from 'node:stream';

export interface ExitCandidate {
  pk: string;
  port: number;
  attrs?: Record<string, string>;
}

export interface MeshDialer {
  dial(pk: string, port: number, o?: { minHops?: number; maxHops?: number }): Promise<Duplex>;
}

export interface ExitPickerOptions {
  /** A fixed server; `query` is not used then. */
  fixed?: ExitCandidate;
  /** Lists announced socks-servers (AppClient.query('socks')). */
  query?: () => Promise<ExitCandidate[]>;
  /** Our own node key, never picked as our exit. */
  self?: string;
  refreshMs?: number;
}

export class NoExitError extends Error {
  readonly code = 'no_route';
  constructor(message = 'no socks-server is announced (service "socks")') {
    super(message);
  }
}

export class ExitPicker {
  private cache: { at: number; list: ExitCandidate[] } | undefined;
  private preferred: string | undefined;

  constructor(private readonly o: ExitPickerOptions) {
    if (!o.fixed && !o.query) throw new Error('ExitPicker needs a fixed server or a query');
  }

  async candidates(): Promise<ExitCandidate[]> {
    if (this.o.fixed) return [this.o.fixed];
    const now = Date.now();
    if (!this.cache || now - this.cache.at > (this.o.refreshMs ?? 30_000)) {
      const self = this.o.self?.toLowerCase();
      const list = (await this.o.query!()).filter((c) => c.pk.toLowerCase() !== self);
      this.cache = { at: now, list };
    }
    const list = [...this.cache.list];
    const i = list.findIndex((c) => `${c.pk}:${c.port}` === this.preferred);
    if (i > 0) list.unshift(...list.splice(i, 1));
    return list;
  }

  /** Dials the preferred server, falling over to the others; throws the last error. */
  async dial(mesh: MeshDialer, hops?: { minHops?: number; maxHops?: number }): Promise<Duplex> {
    const list = await this.candidates();
    if (!list.length) throw new NoExitError();
    let last: unknown;
    for (const c of list) {
      try {
        const s = await mesh.dial(c.pk, c.port, hops);
        this.preferred = `${c.pk}:${c.port}`;
        return s;
      } catch (err) {
        last = err;
        if (this.cache) this.cache.at = 0; // the list may be stale: refresh it next time
      }
    }
    throw last;
  }
}
