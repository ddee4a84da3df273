// What `skywire node status` shows (docs/node.md): transports, rules with their traffic, streams, apps,
// wanted peers and the drop counters.
import type { Rule, RoutingTable } from './routing-table.js';
import type { Transports } from './transports.js';
import type { ManagerLinks } from './manager-links.js';
import type { RouteEnds } from './route-ends.js';
import type { Forwarder } from './forwarder.js';
import type { AppApiServer } from './app-api.js';
import type { Meter } from './metering/meter.js';

export interface StatusParts {
  pkHex: string;
  table: RoutingTable;
  /** With metering on: what each rule's next hop signed for (docs/metering.md). */
  meter?: Meter;
  transports: Transports;
  managers: ManagerLinks;
  ends: RouteEnds;
  forwarder: Forwarder;
  api: AppApiServer;
}

function rule(r: Rule, now: number, meter: Meter | undefined): Record<string, unknown> {
  const signed = meter?.signedFor(r.id);
  return {
    id: r.id,
    kind: r.kind,
    route: r.routeKey,
    ...(r.nextPk ? { nextPk: r.nextPk, nextRouteId: r.nextRouteId } : {}),
    bytesIn: r.bytesIn,
    bytesOut: r.bytesOut,
    packetsIn: r.packetsIn,
    packetsOut: r.packetsOut,
    idleMs: now - r.lastActivity,
    ...(signed !== undefined ? { signedBytes: signed } : {}),
  };
}

export function nodeStatus(n: StatusParts, listen: string | null): Record<string, unknown> {
  const now = Date.now();
  const transports = n.transports.list();
  return {
    pk: n.pkHex,
    listen,
    managers: n.managers.connected(),
    transports: transports.map((t) => t.info()),
    rules: n.table
      .list()
      .filter((r) => r.kind !== 'reserved')
      .map((r) => rule(r, now, n.meter)),
    streams: n.ends.list().map((e) => ({
      route: e.info.routeKey,
      remotePk: e.info.remotePk,
      remotePort: e.info.remotePort,
      localPort: e.info.localPort,
      initiator: e.info.initiator,
      repairs: e.repairs,
    })),
    apps: n.api.apps(),
    pending: n.transports.pending(),
    dropped: {
      unknownRoute: n.table.unknownRoute,
      noTransport: n.forwarder.droppedNoTransport,
      wrongTransport: n.forwarder.droppedWrongTransport,
      malformed: transports.reduce((k, t) => k + t.decoder.stats.malformed, 0),
      rejectedControl: n.managers.rejected,
    },
  };
}
