// What a sender holds of its next hop's receipts for one route (docs/metering.md, Cadence): the newest receipt
// whose signature checked out, with the highest link of its chain that hashed to its tip, and a newer receipt
// waiting for its signature check (one check per route per second, not per receipt). Links are checked at once:
// a link costs hashes, not a signature, and each receipt's links are bounded (MAX_LINKS; after one bad link the
// receipt takes no more), so a neighbour's input costs us bounded time and no memory beyond our own routes.
import { hashesTo, type Link } from './chain.js';
import type { Receipt } from './receipt.js';

/** Receipts with longer chains are refused: checking a link costs up to `links` hashes. */
export const MAX_LINKS = 1024;

export interface Proof {
  receipt: Receipt;
  /** The highest link checked (0: none) and its value. */
  index: number;
  value?: Buffer;
  /** A link of this receipt failed its check: the signer is not honest, its further links are ignored. */
  spoiled?: boolean;
}

/** The bytes a receipt and its checked links prove. */
export const provenBytes = (p: Proof | undefined): number => (p ? p.receipt.bytes + p.index * (p.receipt.chain?.step ?? 0) : 0);

/** An older (or the same) receipt than one we hold proves nothing new. */
export function isStale(r: Receipt, have: Proof | undefined): boolean {
  return !!have && (r.seq <= have.receipt.seq || r.bytes < have.receipt.bytes);
}

export type LinkResult = 'ok' | 'stale' | 'bad';

/** Applies a link to the proof of its receipt; 'bad' when it does not hash to what we hold. */
export function applyLink(p: Proof, l: Link): LinkResult {
  const c = p.receipt.chain;
  if (!c || p.spoiled || l.index > c.links) return 'bad';
  if (l.index <= p.index) return 'stale';
  const target = p.value ?? Buffer.from(c.tip, 'hex');
  if (!hashesTo(l.value, l.index - p.index, target)) {
    p.spoiled = true;
    return 'bad';
  }
  p.index = l.index;
  p.value = l.value;
  return 'ok';
}
