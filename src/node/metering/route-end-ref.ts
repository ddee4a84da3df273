// Our end of a route as route-receipts.ts needs it, from the node's route ends and routing table.
import { PacketType } from '../packet.js';
import type { RouteEnds } from '../route-ends.js';
import type { RoutingTable } from '../routing-table.js';
import type { Transport } from '../transport.js';
import type { RouteEndRef } from './route-receipts.js';

export function routeEndRef(ends: RouteEnds, table: RoutingTable, transportTo: (pk: string) => Transport | undefined, routeKey: string): RouteEndRef | undefined {
  // A scan, but once a second per metered route (and per route receipt), never per packet.
  const end = ends.list().find((e) => e.info.routeKey === routeKey);
  if (!end) return undefined;
  const info = end.info;
  return {
    remotePk: info.remotePk,
    viaHops: info.outPk !== info.remotePk,
    sendBack: (raw) => transportTo(info.outPk)?.send(PacketType.RECEIPT, info.outRouteId, raw) ?? false,
    sent: () => {
      const out = table.byRouteKey(routeKey).find((r) => r.kind === 'forward');
      return { bytes: out?.bytesOut ?? 0, packets: out?.packetsOut ?? 0 };
    },
    alive: () => ends.has(routeKey),
  };
}
