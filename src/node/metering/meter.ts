// Per-hop metering (docs/metering.md, Cadence): for each route id on which a neighbour sends us packets, we count
// payload bytes and packets and prove the totals to that neighbour every RECEIPT_EVERY_BYTES, every second of
// traffic and when the route closes (RECEIPT packets on route id 0): a signed receipt each second and at close,
// and in between a link of the hash chain the receipt committed to per MiB (chain.ts), which costs a lookup
// instead of a signature. For each route id we forward packets on, we count what we sent and keep the latest
// receipt and link the next hop sent for it, after checking them (proof.ts).
// The hot path (`received`, `forwarded`) is a number-keyed map lookup, two additions and a compare per packet.
import type { KeyPair } from '../../net/keys.js';
import type { Logger } from '../../util/log.js';
import { decodeReceipt, signReceiptAsync, verifyReceiptAsync, type Receipt } from './receipt.js';
import { chainValue, decodeLink, encodeLink, LINK_BYTES, linkText, makeChain } from './chain.js';
import { applyLink, isStale, MAX_LINKS, provenBytes, type Proof } from './proof.js';
import { RouteReceipts, type RouteEndRef } from './route-receipts.js';
import type { LedgerStore } from './ledger.js';
import { LedgerWriter } from './ledger-writer.js';

/** Proof (a link, or a receipt when there is no chain left) at least every this many received bytes on a route. */
export const RECEIPT_EVERY_BYTES = 1 << 20;
/** A receipt's chain has links for twice the last second's traffic, within these bounds. */
export const MIN_LINKS = 8;
export const MAX_SIGNED_LINKS = 256;
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
  /** The route key of our consume rule `id` (a local route end), for route receipts. */
  routeKeyOf?(id: number): string | undefined;
  /** Our end of a route. */
  routeEnd?(routeKey: string): RouteEndRef | undefined;
  ledger?: LedgerStore;
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

/** The receipt we signed last for a route, with its chain; links go out only once the receipt went. */
interface Anchor {
  seq: number;
  bytes: number;
  links: number;
  chain?: Buffer;
  sent: boolean;
  revealed: number;
}

interface InEntry extends Entry {
  seq: number;
  /** What our receipt and links sent so far prove. */
  signedBytes: number;
  /** The next proof is due once `bytes` reaches this. */
  nextAt: number;
  /** Bytes at the last tick (the last second's traffic sizes the next chain). */
  tickBytes: number;
  anchor?: Anchor;
  receipt?: Receipt;
}

interface OutEntry extends Entry {
  /** The newest receipt whose signature checked out, with its checked links. */
  proof?: Proof;
  /** A newer one, its signature checked on the next tick (one check per route per second, not per receipt). */
  unchecked?: Proof;
  /** When the unsigned part last went above UNSIGNED_TAIL_BYTES (0 = it is not). */
  tailSince: number;
}

export interface MeterRow {
  /** `route`: a route we own, `bytes` what we sent, `signedBytes` what its far end signed end to end. */
  dir: 'in' | 'out' | 'route';
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
  linksSent: number;
  linksAccepted: number;
  /** Receipts and links refused, by reason (bad layout, signature or link, not for us, not from the sender, unknown route, stale). */
  refused: Record<'malformed' | 'badSignature' | 'badLink' | 'wrongPayee' | 'wrongSigner' | 'unknownRoute' | 'stale', number>;
}

export class Meter {
  private readonly inbound = new Map<number, InEntry>();
  private readonly outbound = new Map<number, OutEntry>();
  /** `${peer}:${their route id}` -> our rule id, for receipts (rare; not on the packet path). */
  private readonly outByPeerRoute = new Map<string, number>();
  readonly counters: MeterCounters = {
    receiptsSent: 0,
    receiptsAccepted: 0,
    linksSent: 0,
    linksAccepted: 0,
    refused: { malformed: 0, badSignature: 0, badLink: 0, wrongPayee: 0, wrongSigner: 0, unknownRoute: 0, stale: 0 },
  };
  private readonly writer: LedgerWriter;
  /** Signatures being made or checked on the thread pool. */
  private readonly busy = new Set<Promise<void>>();
  /** Route-level receipts: those we sign as a route's end, those the far ends of our routes sign. */
  readonly routes: RouteReceipts;

  constructor(private readonly host: MeterHost) {
    this.writer = new LedgerWriter(host.ledger, host.log);
    this.routes = new RouteReceipts(
      { key: host.key, pkHex: host.pkHex, routeEnd: (k) => host.routeEnd?.(k) },
      (p) => this.track(p),
    );
  }

  /** A packet of `len` payload bytes arrived from `peer` on our rule `routeId`. */
  received(peer: string, routeId: number, len: number): void {
    let e = this.inbound.get(routeId);
    if (!e || e.peer !== peer) {
      e = { peer, routeId, ruleId: routeId, bytes: 0, packets: 0, seq: 0, signedBytes: 0, nextAt: RECEIPT_EVERY_BYTES, tickBytes: 0, goneSince: 0, persisted: '' };
      this.inbound.set(routeId, e);
    }
    e.bytes += len;
    e.packets++;
    if (e.bytes >= e.nextAt) this.advance(e);
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
    if (e && e.bytes > (e.anchor?.bytes ?? 0)) this.sign(e, Date.now(), false);
    if (e) this.signRoute(e, Date.now(), true);
  }

  /** A RECEIPT that came over route `routeKey` to our end of it (the far end's route receipt). */
  onRouteReceipt(routeKey: string, payload: Buffer): void {
    this.routes.onReceipt(routeKey, payload);
  }

  private signRoute(e: InEntry, now: number, final = false): void {
    const key = this.host.routeKeyOf?.(e.ruleId);
    if (key) this.routes.sign(key, e.routeId, e.bytes, e.packets, now, final);
  }

  /** A RECEIPT packet from neighbour `from`. */
  onReceipt(from: string, payload: Buffer): void {
    const c = this.counters.refused;
    if (payload.length === LINK_BYTES) return this.onLink(from, payload);
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
    if (isStale(r, e.proof) || isStale(r, e.unchecked)) return void c.stale++;
    if ((r.chain?.links ?? 0) > MAX_LINKS) return void c.malformed++;
    e.unchecked = { receipt: r, index: 0 };
  }

  /** A link of a receipt's chain: checked at once (hashes, bounded per receipt by its links). */
  private onLink(from: string, payload: Buffer): void {
    const c = this.counters.refused;
    const l = decodeLink(payload);
    if (!l) return void c.malformed++;
    const ruleId = this.outByPeerRoute.get(`${from}:${l.routeId}`);
    const e = ruleId === undefined ? undefined : this.outbound.get(ruleId);
    if (!e) return void c.unknownRoute++;
    const p = [e.unchecked, e.proof].find((x) => x?.receipt.seq === l.seq);
    if (!p) return void c.stale++;
    const res = applyLink(p, l);
    if (res === 'ok') this.counters.linksAccepted++;
    else if (res === 'stale') c.stale++;
    else c.badLink++;
  }

  /** Checks the signature of each route's newest receipt (on the thread pool); the good ones are kept. */
  checkReceipts(): void {
    for (const e of this.outbound.values()) {
      const p = e.unchecked;
      if (!p) continue;
      this.track(
        verifyReceiptAsync(p.receipt).then((ok) => {
          // Links that came meanwhile were applied to `p`; a newer receipt may have replaced it as unchecked.
          if (e.unchecked === p) e.unchecked = undefined;
          if (!ok) return void this.counters.refused.badSignature++;
          if (isStale(p.receipt, e.proof)) return;
          e.proof = p;
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
      // A receipt for exactly what arrived, with a fresh chain, each second there was traffic.
      if (e.bytes > (e.anchor?.bytes ?? 0)) this.sign(e, now, true);
      this.signRoute(e, now);
      e.tickBytes = e.bytes;
      this.age(e, now, this.inbound, 'in');
    }
    for (const e of this.outbound.values()) {
      const unsigned = e.bytes - provenBytes(e.proof);
      if (unsigned <= UNSIGNED_TAIL_BYTES) e.tailSince = 0;
      else if (!e.tailSince) e.tailSince = now;
      if (this.age(e, now, this.outbound, 'out')) this.outByPeerRoute.delete(`${e.peer}:${e.routeId}`);
    }
    const written = this.persist(now); // before a route gone for LINGER_MS is forgotten
    this.routes.tick(now, LINGER_MS);
    return written;
  }

  /** What the next hop signed for the bytes our rule `ruleId` forwarded; undefined when we meter none. */
  signedFor(ruleId: number): number | undefined {
    const e = this.outbound.get(ruleId);
    return e ? provenBytes(e.proof) : undefined;
  }

  rows(now = Date.now()): MeterRow[] {
    const out: MeterRow[] = [];
    for (const e of this.outbound.values()) {
      out.push({
        dir: 'out', peer: e.peer, routeId: e.routeId, bytes: e.bytes, packets: e.packets,
        signedBytes: provenBytes(e.proof), receiptSeq: e.proof?.receipt.seq,
        withholding: e.tailSince > 0 && now - e.tailSince >= WITHHELD_AFTER_MS,
      });
    }
    for (const e of this.inbound.values()) {
      out.push({ dir: 'in', peer: e.peer, routeId: e.routeId, bytes: e.bytes, packets: e.packets, signedBytes: e.signedBytes, receiptSeq: e.receipt?.seq });
    }
    for (const o of this.routes.owned.values()) {
      const r = o.proof?.receipt;
      if (r) out.push({ dir: 'route', peer: o.peer, routeId: r.routeId, bytes: o.sent.bytes, packets: o.sent.packets, signedBytes: r.bytes, receiptSeq: r.seq });
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

  /** Proof is due: the next link of the chain, or a new receipt when there is none. */
  private advance(e: InEntry): void {
    const a = e.anchor;
    if (!a?.chain || a.revealed >= a.links) return this.sign(e, Date.now(), true);
    if (!a.sent) return; // the receipt is being signed; its links follow it (the next packet tries again)
    const index = Math.min(a.links, Math.floor((e.bytes - a.bytes) / RECEIPT_EVERY_BYTES));
    a.revealed = index;
    e.signedBytes = a.bytes + index * RECEIPT_EVERY_BYTES;
    e.nextAt = e.signedBytes + RECEIPT_EVERY_BYTES;
    const link = encodeLink({ routeId: e.routeId, seq: a.seq, index, value: chainValue(a.chain, index) });
    if (this.host.sendReceipt(e.peer, link)) this.counters.linksSent++;
  }

  private sign(e: InEntry, now: number, withChain: boolean): void {
    const lastSecond = e.bytes - e.tickBytes;
    const links = withChain ? Math.max(MIN_LINKS, Math.min(MAX_SIGNED_LINKS, Math.ceil((2 * lastSecond) / RECEIPT_EVERY_BYTES))) : 0;
    const chain = links ? makeChain(links) : undefined;
    const a: Anchor = { seq: e.seq, bytes: e.bytes, links, chain, sent: false, revealed: 0 };
    const fields = {
      signer: this.host.pkHex, payee: e.peer, routeId: e.routeId, bytes: e.bytes, packets: e.packets, seq: e.seq, timeMs: now,
      ...(chain ? { chain: { step: RECEIPT_EVERY_BYTES, links, tip: chainValue(chain, 0).toString('hex') } } : {}),
    };
    e.seq++;
    e.anchor = a;
    e.signedBytes = e.bytes;
    e.nextAt = e.bytes + RECEIPT_EVERY_BYTES;
    this.track(
      signReceiptAsync(fields, this.host.key).then((r) => {
        // Signatures may finish out of order; the receipt kept is the newest.
        if (!e.receipt || r.seq > e.receipt.seq) e.receipt = r;
        if (this.host.sendReceipt(e.peer, r.raw)) this.counters.receiptsSent++;
        a.sent = true;
        if (e.anchor === a && e.bytes >= e.nextAt) this.advance(e);
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

  private persistEntry(e: Entry, now: number, dir: 'in' | 'out', force = false): void {
    const proof = (e as OutEntry).proof;
    const r = proof?.receipt ?? (e as InEntry).receipt;
    const link = proof?.value ? linkText(proof.index, proof.value) : undefined;
    const rec = { dir, peer: e.peer, routeId: e.routeId, bytes: e.bytes, packets: e.packets, ...(r ? { receipt: r.raw.toString('hex') } : {}), ...(link ? { link } : {}) };
    this.writer.add(e, `${e.bytes}:${r ? r.seq : -1}:${proof?.index ?? 0}`, rec, now, force);
  }

  private persist(now: number): Promise<void> {
    for (const e of this.outbound.values()) this.persistEntry(e, now, 'out');
    for (const e of this.inbound.values()) this.persistEntry(e, now, 'in');
    // A route we own: what we sent, with the far end's newest route receipt.
    for (const o of this.routes.owned.values()) {
      const r = o.proof?.receipt;
      if (!r) continue;
      const rec = { dir: 'route' as const, peer: o.peer, routeId: r.routeId, bytes: o.sent.bytes, packets: o.sent.packets, receipt: r.raw.toString('hex') };
      this.writer.add(o, `${o.sent.bytes}:${r.seq}`, rec, now);
    }
    return this.writer.flush();
  }
}
