// A live route as a node manager holds it in memory (what the dashboard shows, and what a repair or removal needs),
// and its form in Redis when managers share state (shared-records.ts).
import type { RouteView } from './dashboard/model.js';
import type { StoredRoute } from './shared-records.js';

/** A live route: what the dashboard shows of it, and what the manager needs to repair or remove it. */
export interface RouteRecord extends RouteView {
  /** Route ids each hop receives with (index 0, the sending end, has none). */
  fwdIds: number[];
  revIds: number[];
  minHops?: number;
  maxHops: number;
  repairs: number;
  repairing?: boolean;
  /** Set up by this manager (counted against its dialer's limit); false for a route adopted from Redis. */
  mine: boolean;
}

/** Whether a route's paths use what just died (a node, or a transport). */
export type PathMatch = (r: { fwd: string[]; rev: string[] }) => boolean;

export const toStored = (r: RouteRecord, by: string): StoredRoute => ({
  key: r.key,
  from: r.from,
  to: r.to,
  port: r.port,
  fwd: r.fwd,
  rev: r.rev,
  fwdIds: r.fwdIds,
  revIds: r.revIds,
  ...(r.minHops !== undefined ? { minHops: r.minHops } : {}),
  maxHops: r.maxHops,
  repairs: r.repairs,
  createdAt: r.createdAt,
  by,
});

