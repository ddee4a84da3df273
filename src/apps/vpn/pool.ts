// Client addresses from the server's private subnet: .1 (first host) is the server, the rest go to clients.
// A key gets the same address back when it reconnects, as long as nobody else took it meanwhile.
import { type Cidr, formatCidr, intToIp } from './ipv4.js';

export class PoolExhaustedError extends Error {
  readonly code = 'pool_exhausted';
  constructor(subnet: Cidr, size: number) {
    super(`no free address left in ${formatCidr(subnet)} (all ${size} client addresses are in use)`);
  }
}

export class AddressPool {
  readonly gateway: number;
  private readonly first: number;
  private readonly last: number;
  private readonly byAddr = new Map<number, string>();
  private readonly lastOf = new Map<string, number>();

  constructor(readonly subnet: Cidr) {
    if (subnet.prefixLen > 30) throw new Error(`subnet ${formatCidr(subnet)} is too small: use a /30 or larger`);
    const size = 2 ** (32 - subnet.prefixLen);
    this.gateway = subnet.network + 1;
    this.first = subnet.network + 2;
    this.last = subnet.network + size - 2; // the top address is the broadcast address
  }

  get capacity(): number {
    return this.last - this.first + 1;
  }

  get gatewayIp(): string {
    return intToIp(this.gateway);
  }

  /** Takes an address for `key`; throws PoolExhaustedError when none is free. */
  take(key: string): number {
    const prev = this.lastOf.get(key);
    if (prev !== undefined && !this.byAddr.has(prev)) return this.bind(prev, key);
    for (let a = this.first; a <= this.last; a++) {
      if (!this.byAddr.has(a)) return this.bind(a, key);
    }
    throw new PoolExhaustedError(this.subnet, this.capacity);
  }

  release(addr: number): void {
    this.byAddr.delete(addr);
  }

  private bind(addr: number, key: string): number {
    this.byAddr.set(addr, key);
    this.lastOf.set(key, addr);
    return addr;
  }
}
