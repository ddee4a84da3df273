// Route-level receipts (docs/metering.md, Route receipts): each end of a route that crosses other nodes signs,
// every second of traffic and at close, what it received end to end, for the route's other end, and sends it
// back over the route (a RECEIPT packet on the route's own id; the hops forward it like any packet). The same
// receipt format as per hop: signer = this end, payee = the other end, route id = the id packets arrive with
// here, cumulative counts. The other end (the route's owner, who pays) keeps the newest one per route, checked
// like a neighbour's, next to what it sent itself. A hop's claim on the route's last hop can then be checked
// against what actually arrived (statement.ts, checkAgainstRoutes).
import type { KeyPair } from '../../net/keys.js';
import { decodeReceipt, signReceipt, signReceiptAsync, verifyReceiptAsync, type Receipt } from './receipt.js';
import { isStale, type Proof } from './proof.js';

/** A route end, as the meter needs it (node.ts finds it from a rule id or a route key). */
export interface RouteEndRef {
  /** The other end: the payee of our route receipts, the signer of theirs. */
  remotePk: string;
  /** True when the route crosses other nodes (a direct route's per-hop receipts already say it all). */
  viaHops: boolean;
  /** Sends a packet back over the route; false when there is no transport. */
  sendBack(raw: Buffer): boolean;
  /** Payload bytes and packets we sent on the route. */
  sent(): { bytes: number; packets: number };
  /** Whether the route end is still there. */
  alive(): boolean;
}

export interface RouteReceiptHost {
  key: KeyPair;
  pkHex: string;
  routeEnd(routeKey: string): RouteEndRef | undefined;
}

/** What the owner holds for one route: the far end's newest checked receipt, and what it sent. */
export interface OwnedRoute {
  routeKey: string;
  peer: string;
  proof?: Proof;
  unchecked?: Proof;
  sent: { bytes: number; packets: number };
  goneSince: number;
  /** What the ledger last got (ledger-writer.ts). */
  persisted: string;
}

export interface RouteCounters {
  sent: number;
  accepted: number;
  refused: number;
}

/** Signing side: per route end, the next receipt's seq and the bytes the last one covered. */
interface Signed {
  seq: number;
  bytes: number;
}

export class RouteReceipts {
  readonly owned = new Map<string, OwnedRoute>();
  private readonly signed = new Map<string, Signed>();
  readonly counters: RouteCounters = { sent: 0, accepted: 0, refused: 0 };

  constructor(
    private readonly host: RouteReceiptHost,
    private readonly track: (p: Promise<void>) => void,
  ) {}

  /**
   * Our end of `routeKey` received `bytes`/`packets` so far on route id `routeId`: sign them if new. `final` (the
   * route is closing) signs at once, on this thread: a signature from the thread pool would be ready only after the
   * CLOSE has torn down the hops' rules, and the owner would keep the previous second's receipt.
   */
  sign(routeKey: string, routeId: number, bytes: number, packets: number, now: number, final = false): void {
    const end = this.host.routeEnd(routeKey);
    if (!end?.viaHops) return;
    const s = this.signed.get(routeKey) ?? { seq: 0, bytes: 0 };
    if (bytes <= s.bytes) return;
    this.signed.set(routeKey, { seq: s.seq + 1, bytes });
    const fields = { signer: this.host.pkHex, payee: end.remotePk, routeId, bytes, packets, seq: s.seq, timeMs: now };
    if (final) {
      if (end.sendBack(signReceipt(fields, this.host.key).raw)) this.counters.sent++;
      return;
    }
    this.track(
      signReceiptAsync(fields, this.host.key).then((r) => {
        if (end.sendBack(r.raw)) this.counters.sent++;
      }),
    );
  }

  /** A RECEIPT that came over route `routeKey` to our end: the far end's route receipt. */
  onReceipt(routeKey: string, payload: Buffer): void {
    const end = this.host.routeEnd(routeKey);
    let r: Receipt;
    try {
      r = decodeReceipt(payload);
    } catch {
      return void this.counters.refused++;
    }
    // Only the route's other end signs for it, to us; at most one waiting per route (bounded by our routes).
    if (!end || r.signer !== end.remotePk || r.payee !== this.host.pkHex || r.chain) return void this.counters.refused++;
    let o = this.owned.get(routeKey);
    if (!o) this.owned.set(routeKey, (o = { routeKey, peer: r.signer, sent: end.sent(), goneSince: 0, persisted: '' }));
    if (isStale(r, o.proof) || isStale(r, o.unchecked) || (o.proof && o.proof.receipt.routeId !== r.routeId)) {
      return void this.counters.refused++;
    }
    o.unchecked = { receipt: r, index: 0 };
  }

  /** Once a second: check the waiting receipts, note what we sent, forget routes gone for `lingerMs`. */
  tick(now: number, lingerMs: number): void {
    for (const o of this.owned.values()) {
      const end = this.host.routeEnd(o.routeKey);
      const sent = end?.sent();
      if (sent && sent.bytes >= o.sent.bytes) o.sent = sent; // its rules may be gone before the end
      const p = o.unchecked;
      if (p) {
        o.unchecked = undefined;
        this.track(
          verifyReceiptAsync(p.receipt).then((ok) => {
            if (!ok) return void this.counters.refused++;
            if (isStale(p.receipt, o.proof)) return;
            o.proof = p;
            this.counters.accepted++;
          }),
        );
      }
      if (end?.alive()) o.goneSince = 0;
      else if (!o.goneSince) o.goneSince = now;
      else if (now - o.goneSince >= lingerMs && !o.unchecked) this.owned.delete(o.routeKey);
    }
    for (const k of this.signed.keys()) if (!this.host.routeEnd(k)?.alive()) this.signed.delete(k);
  }
}
