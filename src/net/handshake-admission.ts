// Which unauthenticated connections a secure listener keeps while their handshakes run. A flood of connections
// that never finish must not lock legitimate peers out (issue 17), so pending handshakes are bounded per source
// address, and when the listener is full a new source still gets in: the oldest pending handshake of the source
// holding the most gives way. Completed handshakes do not count, so many clients on one address are fine as
// long as they finish their handshakes.

export interface AdmissionLimits {
  /** Pending handshakes in all. */
  maxPending: number;
  /** Pending handshakes from one source (an IPv4 address, an IPv6 /64). */
  maxPendingPerSource: number;
}

export type Admission<T> = { admitted: true; evicted?: T } | { admitted: false; reason: string };

/** The source a connection is counted under: the IPv4 address, or the /64 prefix of an IPv6 address. */
export function sourceOf(address: string | undefined): string {
  if (!address) return '?';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  // One IPv6 host usually holds a whole /64: count the prefix, not the address.
  const [head, tail = ''] = address.split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

export class HandshakeAdmission<T> {
  private readonly bySource = new Map<string, Set<T>>();
  private readonly sources = new Map<T, string>();
  private total = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  get pending(): number {
    return this.total;
  }

  /** Decides on a new connection from `source`; on admission the caller must call done() when it completes. */
  admit(source: string, item: T): Admission<T> {
    const mine = this.bySource.get(source);
    const count = mine?.size ?? 0;
    if (count >= this.limits.maxPendingPerSource) {
      return { admitted: false, reason: `${count} handshakes from ${source} already pending` };
    }
    let evicted: T | undefined;
    if (this.total >= this.limits.maxPending) {
      // Full: the source with the most pending gives up its oldest, if it holds more than this one would.
      let heaviest: Set<T> | undefined;
      for (const set of this.bySource.values()) if (!heaviest || set.size > heaviest.size) heaviest = set;
      if (!heaviest || heaviest.size <= count + 1) {
        return { admitted: false, reason: `${this.total} handshakes pending, the most the listener takes` };
      }
      evicted = heaviest.values().next().value as T;
      this.remove(evicted);
    }
    const set = mine ?? new Set<T>();
    if (!mine) this.bySource.set(source, set);
    set.add(item);
    this.sources.set(item, source);
    this.total++;
    return evicted === undefined ? { admitted: true } : { admitted: true, evicted };
  }

  /** The handshake of `item` ended (either way); it no longer counts. Safe to call more than once. */
  done(item: T): void {
    this.remove(item);
  }

  private remove(item: T): void {
    const source = this.sources.get(item);
    if (source === undefined) return;
    this.sources.delete(item);
    const set = this.bySource.get(source)!;
    set.delete(item);
    if (set.size === 0) this.bySource.delete(source);
    this.total--;
  }
}
