// Forwarding: a packet that arrived on a transport goes where its route id's rule says (docs/routing.md,
// Routing table): on to the next hop with the id rewritten, or to a local route end. A full next hop stops
// reading the transport the packet came from until it drains (per-hop backpressure).
import { noteDataBytes } from '../util/young-gen.js';
import { PacketType, payloadLength, type Packet } from './packet.js';
import type { RoutingTable } from './routing-table.js';
import type { Transport } from './transport.js';
import type { Meter } from './metering/meter.js';

export interface ForwarderHost {
  readonly table: RoutingTable;
  transportTo(pk: string): Transport | undefined;
  /** Hands a packet for a local route end (a `consume` rule) to that end. */
  deliver(routeKey: string, p: Packet, from: Transport): void;
  /** Counts what each neighbour sent us and what we forwarded, for receipts (docs/metering.md). */
  readonly meter?: Meter;
}

export class Forwarder {
  /** Packets for an intermediary rule whose next hop has no transport. */
  droppedNoTransport = 0;
  /** Packets for a live route id that came from a transport other than the rule's previous hop. */
  droppedWrongTransport = 0;

  private readonly meter: Meter | undefined;

  constructor(private readonly host: ForwarderHost) {
    this.meter = host.meter;
  }

  onPacket(p: Packet, from: Transport): void {
    const table = this.host.table;
    const rule = table.lookup(p.routeId);
    if (!rule) return;
    // A rule takes packets only from the neighbour it was installed for: a route id is no capability, and any
    // key may open a transport. (Our own outbound `forward` rules take none.)
    if (rule.fromPk !== from.pk) {
      this.droppedWrongTransport++;
      return;
    }
    rule.lastActivity = Date.now();
    const len = payloadLength(p);
    noteDataBytes(len);
    rule.bytesIn += len;
    rule.packetsIn++;
    const meter = this.meter;
    meter?.received(from.pk, rule.id, len);
    if (meter && (p.type === PacketType.CLOSE || p.type === PacketType.ERROR)) meter.closed(rule.id);
    if (rule.kind === 'intermediary') {
      const next = this.host.transportTo(rule.nextPk!);
      if (!next) {
        this.droppedNoTransport++;
        return;
      }
      // A payload that arrived in pieces leaves in pieces (the secure channel seals them without a copy).
      const ok = p.parts ? next.sendv(p.type, rule.nextRouteId!, p.parts, len) : next.send(p.type, rule.nextRouteId!, p.payload);
      rule.bytesOut += len;
      rule.packetsOut++;
      meter?.forwarded(rule.id, rule.nextPk!, rule.nextRouteId!, len);
      if (p.type === PacketType.CLOSE || p.type === PacketType.ERROR) table.delete(rule.id);
      if (!ok) holdUntilDrained(from, next);
    } else if (rule.kind === 'consume') {
      this.host.deliver(rule.routeKey, p, from);
    }
  }
}

/** Backpressure: stop reading `from` while `to` cannot take more. */
function holdUntilDrained(from: Transport, to: Transport): void {
  if (from.isPausedBy(to)) return;
  from.pauseReading(to);
  const release = () => {
    to.off('drain', release);
    to.off('close', release);
    from.resumeReading(to);
  };
  to.on('drain', release);
  to.on('close', release);
}
