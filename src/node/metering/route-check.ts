// A hop's statement against the route owners' statements (docs/metering.md, Route receipts): a route's far end
// signs to the owner what arrived end to end; the hop before it cannot honestly have forwarded, or have been
// signed for, more. So a next hop that colludes with the hop (signing it receipts for bytes that never arrived)
// is caught by the owner's route receipt, which the owner checked against what it sent itself.
import { UNSIGNED_TAIL_BYTES } from './meter.js';
import type { Issue, Verification } from './statement.js';

const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;

/**
 * Issues of `hop` (a verified statement) against the owners' verified statements: each entry of `hop` whose
 * (peer, route id) is the far end of an owner's route may claim, and be signed for, at most what that far end
 * signed to the owner, plus the cadence's tail (in flight when the two were signed).
 */
export function checkAgainstRoutes(hop: Verification, owners: Verification[]): Issue[] {
  const reached = new Map<string, { bytes: number; owner: string }>();
  for (const o of owners) {
    for (const r of o.routes) {
      const k = `${r.peer}:${r.routeId}`;
      if (r.signedTotal > (reached.get(k)?.bytes ?? -1)) reached.set(k, { bytes: r.signedTotal, owner: o.node ?? '?' });
    }
  }
  const issues: Issue[] = [];
  for (const e of hop.entries) {
    const end = reached.get(`${e.peer}:${e.routeId}`);
    if (!end) continue;
    const most = Math.max(e.claimedTotal, e.signedTotal);
    if (most > end.bytes + UNSIGNED_TAIL_BYTES) {
      const what = e.signedTotal > end.bytes + UNSIGNED_TAIL_BYTES ? 'its next hop signed it' : 'it claims';
      issues.push({
        kind: 'exceeds-route', peer: e.peer, routeId: e.routeId,
        message: `route ${e.routeId} to ${e.peer.slice(0, 12)}...: ${what} ${mib(most)}, but that node signed to the route's owner ` +
          `${end.owner.slice(0, 12)}... that only ${mib(end.bytes)} arrived end to end`,
      });
    }
  }
  return issues;
}
