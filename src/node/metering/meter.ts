// Per-hop metering (docs/metering.md, Cadence): for each route id on which a neighbour sends us packets, we count
// payload bytes and packets and sign a receipt for the totals every RECEIPT_EVERY_BYTES, every second of traffic
// and when the route closes, and send it back to that neighbour (a RECEIPT packet on route id 0). For each route
// id we forward packets on, we count what we sent and keep the latest receipt the next hop signed for it, after
// checking it: signed by that neighbour, to us, for a route we sent on, newer than the last one.
// The hot path (`received`, `forwarded`) is a number-keyed map lookup and two additions per packet.
import type { KeyPair } from '../../net/keys.js';
import type { Logger } from '../../util/log.js';
import { decodeReceipt, signReceiptAsync, verifyReceiptAsync, type Receipt } from './receipt.js';
import { HOUR_MS, type Ledger, type LedgerRecord } from './ledger.js';

/** A receipt at least every this many received bytes on a route (and every second of traffic). */
export const RECEIPT_EVERY_BYTES = 1 << 20;
export const RECEIPT_EVERY_MS = 1000;
/** An entry whose rule is gone is kept this long for a late final receipt, then forgotten (the ledger keeps it). */
export const LINGER_MS = 10_000;
/** A next hop that left this many of our bytes unsigned for WITHHELD_AFTER_MS is shown as withholding. */
export const UNSIGNED_TAIL_BYTES = 4 * RECEIPT_EVERY_BYTES;
export const WITHHELD_AFTER_MS = 3000;

export interface MeterHost {
  key: KeyPair;
  pkHex: string;
  log: Logger;
  /** Sends a receipt to a neighbour; false when there is no transport to it. */
  sendReceipt(pk: string, raw: Buffer): boolean;
  /** Whether our rule with this id is still installed. */
  ruleAlive(id: number): boolean;
  ledger?: Ledger;
}

interface Entry {
  peer: string;
  /** The route id at the receiving node: ours for `in`, the next hop's for `out`. */
  routeId: number;
  bytes: number;
  packets: number;
  /** Our rule id (the key of the map it is in). */
  ruleId: number;
  goneSince: number;
  /** What the ledger last got: `bytes:receipt seq`. */
  persisted: string;
}

interface InEntry extends Entry {
  seq: number;
  signedBytes: number;
  lastSignedMs: number;
  receipt?: Receipt;
}

interface OutEntry extends Entry {
  /** The newest receipt whose signature checked out. */
  receipt?: Receipt;
  /** A newer one, its signature checked on the next tick (one check per route per second, not per receipt). */
  unchecked?: Receipt;
  /** When the unsigned part last went above UNSIGNED_TAIL_BYTES (0 = it is not). */
  tailSince: number;
}

export interface MeterRow {
  dir: 'in' | 'out';
  peer: string;
  routeId: number;
  bytes: number;
  packets: number;
  signedBytes: number;
  receiptSeq?: number;
  withholding?: boolean;
}

export interface MeterCounters {
  receiptsSent: number;
  receiptsAccepted: number;
  /** Receipts refused, by reason (bad layout or signature, not for us, not from the sender, unknown route, stale). */
  refused: Record<'malformed' | 'badSignature' | 'wrongPayee' | 'wrongSigner' | 'unknownRoute' | 'stale', number>;
}

function isStale(r: Receipt, have: Receipt | undefined): boolean {
  return !!have && (r.seq <= have.seq || r.bytes < have.bytes);
}

export class Meter {
  private readonly inbound = new Map<number, InEntry>();
  private readonly outbound = new Map<number, OutEntry>();
  /** `${peer}:${their route id}` -> our rule id, for receipts (rare; not on the packet path). */
  private readonly outByPeerRoute = new Map<string, number>();
  readonly counters: MeterCounters = {
    receiptsSent: 0,
    receiptsAccepted: 0,
    refused: { malformed: 0, badSignature: 0, wrongPayee: 0, wrongSigner: 0, unknownRoute: 0, stale: 0 },
  };
  private writing: Promise<void> = Promise.resolve();
  /** Signatures being made or checked on the thread pool. */
  private readonly busy = new Set<Promise<void>>();

  constructor(private readonly host: MeterHost) {}

  /** A packet of `len` payload bytes arrived from `peer` on our rule `routeId`. */
  received(peer: string, routeId: number, len: number): void {
    let e = this.inbound.get(routeId);
    if (!e || e.peer !== peer) {
      e = { peer, routeId, ruleId: routeId, bytes: 0, packets: 0, seq: 0, signedBytes: 0, lastSignedMs: 0, goneSince: 0, persisted: '' };
      this.inbound.set(routeId, e);
    }
    e.bytes += len;
    e.packets++;
    if (e.bytes - e.signedBytes >= RECEIPT_EVERY_BYTES) this.sign(e, Date.now());
  }

  /** A packet of `len` payload bytes left for `peer` (their route id `nextRouteId`) under our rule `ruleId`. */
  forwarded(ruleId: number, peer: string, nextRouteId: number, len: number): void {
    let e = this.outbound.get(ruleId);
    if (!e || e.peer !== peer || e.routeId !== nextRouteId) {
      e = { peer, routeId: nextRouteId, ruleId, bytes: 0, packets: 0, goneSince: 0, persisted: '', tailSince: 0 };
      this.outbound.set(ruleId, e);
      this.outByPeerRoute.set(`${peer}:${nextRouteId}`, ruleId);
    }
    e.bytes += len;
    e.packets++;
  }

  /** Our rule `routeId` saw a CLOSE or ERROR: the final receipt goes now. */
  closed(routeId: number): void {
    const e = this.inbound.get(routeId);
    if (e && e.bytes > e.signedBytes) this.sign(e, Date.now());
  }

  /** A RECEIPT packet from neighbour `from`. */
  onReceipt(from: string, payload: Buffer): void {
    const c = this.counters.refused;
    let r: Receipt;
    try {
      r = decodeReceipt(payload);
    } catch {
      c.malformed++;
      return;
    }
    if (r.signer !== from) return void c.wrongSigner++;
    if (r.payee !== this.host.pkHex) return void c.wrongPayee++;
    const ruleId = this.outByPeerRoute.get(`${from}:${r.routeId}`);
    const e = ruleId === undefined ? undefined : this.outbound.get(ruleId);
    if (!e) return void c.unknownRoute++;
    // Cumulative counts: an older receipt (replayed, or overtaken) proves less than the one we have. Only the
    // transport's peer can send us its receipts, so a bogus one waiting for its check delays only its own.
    if (isStale(r, e.receipt) || isStale(r, e.unchecked)) return void c.stale++;
    e.unchecked = r;
  }

  /** Checks the signature of each route's newest receipt (on the thread pool); the good ones are kept. */
  checkReceipts(): void {
    for (const e of this.outbound.values()) {
      const r = e.unchecked;
      if (!r) continue;
      e.unchecked = undefined;
      this.track(
        verifyReceiptAsync(r).then((ok) => {
          if (!ok) return void this.counters.refused.badSignature++;
          if (isStale(r, e.receipt)) return;
          e.receipt = r;
          this.counters.receiptsAccepted++;
        }),
      );
    }
  }

  /** Resolves when the signatures started so far are made and checked. */
  async settled(): Promise<void> {
    while (this.busy.size) await Promise.all([...this.busy]);
  }

  private track(p: Promise<void>): void {
    const q = p.catch((err: Error) => this.host.log.warn('metering signature failed', { err: err.message }));
    this.busy.add(q);
    void q.finally(() => this.busy.delete(q));
  }

  /** Once a second: receipts for routes with unsigned traffic, entries of gone rules, the ledger. */
  tick(now = Date.now()): Promise<void> {
    this.checkReceipts();
    for (const e of this.inbound.values()) {
      if (e.bytes > e.signedBytes) this.sign(e, now);
      this.age(e, now, this.inbound, 'in');
    }
    for (const e of this.outbound.values()) {
      const unsigned = e.bytes - (e.receipt?.bytes ?? 0);
      if (unsigned <= UNSIGNED_TAIL_BYTES) e.tailSince = 0;
      else if (!e.tailSince) e.tailSince = now;
      if (this.age(e, now, this.outbound, 'out')) this.outByPeerRoute.delete(`${e.peer}:${e.routeId}`);
    }
    return this.persist(now);
  }

  rows(now = Date.now()): MeterRow[] {
    const out: MeterRow[] = [];
    for (const e of this.outbound.values()) {
      out.push({
        dir: 'out', peer: e.peer, routeId: e.routeId, bytes: e.bytes, packets: e.packets,
        signedBytes: e.receipt?.bytes ?? 0, receiptSeq: e.receipt?.seq,
        withholding: e.tailSince > 0 && now - e.tailSince >= WITHHELD_AFTER_MS,
      });
    }
    for (const e of this.inbound.values()) {
      out.push({ dir: 'in', peer: e.peer, routeId: e.routeId, bytes: e.bytes, packets: e.packets, signedBytes: e.signedBytes, receiptSeq: e.receipt?.seq });
    }
    return out;
  }

  /** Waits for the signatures in flight, then writes what changed to the ledger. */
  async snapshot(): Promise<void> {
    await this.settled();
    this.checkReceipts();
    await this.settled();
    await this.persist(Date.now());
  }

  private sign(e: InEntry, now: number): void {
    const fields = { signer: this.host.pkHex, payee: e.peer, routeId: e.routeId, bytes: e.bytes, packets: e.packets, seq: e.seq, timeMs: now };
    e.seq++;
    e.signedBytes = e.bytes;
    e.lastSignedMs = now;
    this.track(
      signReceiptAsync(fields, this.host.key).then((r) => {
        // Signatures may finish out of order; the receipt kept is the newest.
        if (!e.receipt || r.seq > e.receipt.seq) e.receipt = r;
        if (this.host.sendReceipt(e.peer, r.raw)) this.counters.receiptsSent++;
      }),
    );
  }

  /** Marks an entry whose rule is gone; true when it is forgotten (after its last state went to the ledger). */
  private age(e: Entry, now: number, map: Map<number, Entry>, dir: 'in' | 'out'): boolean {
    if (this.host.ruleAlive(e.ruleId)) {
      e.goneSince = 0;
      return false;
    }
    e.goneSince ||= now;
    if (now - e.goneSince < LINGER_MS) return false;
    if (map.get(e.ruleId) === e) {
      map.delete(e.ruleId);
      this.persistEntry(e, now, dir, true);
    }
    return true;
  }

  private pending: LedgerRecord[] = [];

  private persistEntry(e: Entry, now: number, dir: 'in' | 'out', force = false): void {
    const r = (e as InEntry | OutEntry).receipt;
    const stamp = `${e.bytes}:${r ? r.seq : -1}`;
    if (!force && stamp === e.persisted) return;
    e.persisted = stamp;
    this.pending.push({
      dir,
      peer: e.peer,
      routeId: e.routeId,
      hour: Math.floor(now / HOUR_MS) * HOUR_MS,
      bytes: e.bytes,
      packets: e.packets,
      ...(r ? { receipt: r.raw.toString('hex') } : {}),
      lastMs: now,
    });
  }

  private persist(now: number): Promise<void> {
    const ledger = this.host.ledger;
    if (!ledger) {
      this.pending = [];
      return this.writing;
    }
    for (const e of this.outbound.values()) this.persistEntry(e, now, 'out');
    for (const e of this.inbound.values()) this.persistEntry(e, now, 'in');
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return this.writing;
    this.writing = this.writing
      .then(() => ledger.write(batch))
      .catch((err: Error) => this.host.log.warn('metering ledger write failed', { err: err.message, records: batch.length }));
    return this.writing;
  }
}
