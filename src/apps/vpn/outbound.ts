// The packets of one TUN batch bound for one peer, made into one stream write: each packet as the peer can take
// it (gso.ts `forPeer`: whole, cut to fit a frame, or segmented in software for a peer without offloads).
import { type Offload, NO_OFFLOAD, forPeer, segment } from './gso.js';
import { MAX_OFFLOAD_PACKET, encodePackets } from './protocol.js';

export class Outbound {
  readonly packets: Buffer[] = [];
  private readonly offloads: Offload[] = [];
  bytes = 0;

  constructor(private readonly peerOffload: boolean) {}

  add(pkt: Buffer, off: Offload | undefined): void {
    if (!off) return this.push(pkt, NO_OFFLOAD);
    for (const piece of forPeer(pkt, off, this.peerOffload, MAX_OFFLOAD_PACKET)) this.push(piece.packet, piece.offload);
  }

  /** One buffer of frames (copies of the packets: the batch's views may be reused after this). */
  encode(): Buffer {
    return encodePackets(this.packets, this.offloads);
  }

  private push(pkt: Buffer, off: Offload): void {
    this.packets.push(pkt);
    this.offloads.push(off);
    this.bytes += pkt.length;
  }
}

/** The packets a too-big packet stands for: its segments if it is a GSO packet, else itself. */
export function segmentsOf(pkt: Buffer, off: Offload | undefined): Buffer[] {
  return off?.gsoSize ? segment(pkt, off, 1).map((x) => x.packet) : [pkt];
}
