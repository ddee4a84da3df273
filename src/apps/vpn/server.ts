// vpn-server: one TUN device for all clients; each allowed client key gets an address from the subnet.
// Packets from a client go into the TUN device (the kernel forwards and NATs them to the server's network);
// packets the kernel routes back into the TUN device go to the client owning the destination address.
import type { Duplex } from 'node:stream';
import type { Logger } from '../../util/log.js';
import { Counters, worthLogging } from './counters.js';
import {
  type Cidr,
  buildFragNeeded,
  checkIpv4,
  dontFragment,
  dstOf,
  formatCidr,
  intToIp,
  isIcmpError,
  srcOf,
} from './ipv4.js';
import {
  type Frame,
  FrameType,
  PROTOCOL_VERSION,
  VPN_SERVICE,
  type VpnErrorCode,
  createFrameReader,
  encodeFrame,
  encodeJson,
  parseHello,
  parseOffloadBody,
} from './protocol.js';
import { AddressPool, PoolExhaustedError } from './pool.js';
import { GSO_MAX_SIZE, type Offload, checkOffload, largestSegment, writeToDevice } from './gso.js';
import { Outbound, segmentsOf } from './outbound.js';
import { TunDevice } from './tun.js';
import { noteDataBytes } from '../../util/young-gen.js';
import { type Firewall, NetJournal, addNat, configureLink, detectFirewall, setSysctl } from './netconfig.js';
import type { MeshTransport, RemoteInfo } from './transport.js';

export interface VpnServerOptions {
  transport: MeshTransport;
  /** Client keys (hex, lower case) allowed to use the server. */
  allow: Set<string>;
  subnet: Cidr;
  device: string;
  mtu: number;
  /** TUN offloads (IFF_VNET_HDR, TSO4, checksum; gso.ts) for clients that take them too. */
  offload: boolean;
  firewall: 'auto' | Firewall;
  stateDir: string;
  log: Logger;
  helloTimeoutMs?: number;
  keepaliveMs?: number;
  /** Called when the server cannot go on (its TUN device was removed under it, its node went away). */
  onFatal?: (err: Error) => void;
}

/**
 * Bytes queued towards one client beyond which packets are dropped (as a router would), not buffered: the
 * route's window (src/node/send-window.ts), so a client keeping up with its route loses nothing to the
 * server's queue. One TUN device serves every client, so a slow one cannot pause it for the others.
 * `SKYWIRE_VPN_CONGESTION=drop`: 512 KiB, as before issue 13 (the bench's "before").
 */
const MAX_QUEUED = process.env.SKYWIRE_VPN_CONGESTION === 'drop' ? 512 * 1024 : 2 * 1024 * 1024;

interface Session {
  pk: string;
  addr: number;
  mtu: number;
  /** Both ends use offload frames (the server's device has offloads and the client asked). */
  offload: boolean;
  sock: Duplex;
  counters: Counters;
  lastHeard: number;
}

export class VpnServer {
  readonly counters = new Counters();
  private tun: TunDevice | undefined;
  private journal: NetJournal;
  private pool: AddressPool;
  private readonly byAddr = new Map<number, Session>();
  private readonly byPk = new Map<string, Session>();
  private readonly socks = new Set<Duplex>();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: VpnServerOptions) {
    this.pool = new AddressPool(o.subnet);
    this.journal = new NetJournal(o.stateDir, 'vpn-server', o.device, o.log);
  }

  get gateway(): string {
    return this.pool.gatewayIp;
  }

  async start(): Promise<void> {
    const { o } = this;
    await this.journal.recover();
    const fw = await detectFirewall(o.firewall);
    this.tun = TunDevice.open(o.device, o.offload);
    await configureLink(this.journal, o.device, `${this.pool.gatewayIp}/${o.subnet.prefixLen}`, o.mtu, o.offload ? GSO_MAX_SIZE : undefined);
    await setSysctl(this.journal, '/proc/sys/net/ipv4/ip_forward', '1');
    await addNat(this.journal, fw, o.device, formatCidr(o.subnet));
    this.tun.onPackets(
      o.mtu,
      (packets, offloads) => this.fromTun(packets, offloads),
      (err) => {
        o.log.error('TUN device failed; stopping', { err });
        o.onFatal?.(err);
      },
    );
    await o.transport.listen((sock, remote) => this.accept(sock, remote));
    o.transport.onLost((err) => {
      o.log.error('node connection lost; stopping', { err });
      o.onFatal?.(err);
    });
    const keepaliveMs = o.keepaliveMs ?? 5000;
    this.keepaliveTimer = setInterval(() => this.keepalive(keepaliveMs), keepaliveMs);
    this.keepaliveTimer.unref();
    try {
      await o.transport.announce({ name: VPN_SERVICE, attrs: { v: String(PROTOCOL_VERSION) } });
    } catch (err) {
      o.log.warn('could not announce the vpn service; clients can still connect by key', { err: err as Error });
    }
    o.log.info('vpn-server up', { device: o.device, subnet: formatCidr(o.subnet), firewall: fw, allowed: o.allow.size });
  }

  /** Closes every session, the TUN device, and undoes every network change. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    for (const s of this.socks) s.destroy();
    await this.o.transport.close().catch(() => {});
    this.tun?.close();
    await this.journal.finish();
    this.o.log.info('vpn-server stopped', this.counters.snapshot());
  }

  sessions(): Array<{ pk: string; address: string }> {
    return [...this.byPk.values()].map((s) => ({ pk: s.pk, address: intToIp(s.addr) }));
  }

  private accept(sock: Duplex, remote: RemoteInfo): void {
    if (this.stopped) {
      sock.destroy();
      return;
    }
    this.socks.add(sock);
    const reader = createFrameReader();
    let session: Session | undefined;
    const helloTimer = setTimeout(() => {
      this.o.log.warn('client sent no HELLO in time; closing', { remotePort: remote.port });
      sock.destroy();
    }, this.o.helloTimeoutMs ?? 10_000);
    sock.on('data', (chunk: Buffer) => {
      noteDataBytes(chunk.length);
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        this.o.log.warn('closing a client stream with a malformed frame', { err: err as Error });
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (session) {
          session.lastHeard = Date.now();
          if (f.type === FrameType.Packet) this.fromClient(session, f.body);
          else if (f.type === FrameType.OffloadPacket) this.fromClientOffload(session, f.body);
        } else if (f.type === FrameType.Hello) {
          clearTimeout(helloTimer);
          session = this.hello(sock, remote, f.body);
          if (!session) return;
        } else {
          sock.destroy();
          return;
        }
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(helloTimer);
      this.socks.delete(sock);
      if (session) this.endSession(session, 'stream closed');
    });
  }

  private refuse(sock: Duplex, code: VpnErrorCode, message: string): undefined {
    sock.end(encodeJson(FrameType.Error, { code, message }));
    return undefined;
  }

  private hello(sock: Duplex, remote: RemoteInfo, body: Buffer): Session | undefined {
    let hello;
    try {
      hello = parseHello(body);
    } catch (err) {
      return this.refuse(sock, 'bad_hello', (err as Error).message);
    }
    if (hello.v !== PROTOCOL_VERSION) {
      return this.refuse(sock, 'version', `protocol version ${hello.v} is not supported (this server speaks ${PROTOCOL_VERSION})`);
    }
    const pk = remote.pk.toLowerCase();
    const short = pk.slice(0, 8) || '(none)';
    if (!this.o.allow.has(pk)) {
      this.o.log.warn('refused a client whose key is not on the allowlist', { pk: short });
      return this.refuse(sock, 'not_allowed', `key ${short}… is not on this server's allowlist`);
    }
    // A key that reconnects (e.g. after its route died) replaces its old session and keeps its address.
    const old = this.byPk.get(pk);
    if (old) this.endSession(old, 'replaced by a new connection');
    let addr: number;
    try {
      addr = this.pool.take(pk);
    } catch (err) {
      if (!(err instanceof PoolExhaustedError)) throw err;
      this.o.log.error('address pool exhausted; refusing a client', { pk: short, subnet: formatCidr(this.o.subnet) });
      return this.refuse(sock, 'pool_exhausted', `the server has no free address: ${err.message}`);
    }
    const mtu = Math.min(this.o.mtu, hello.mtu);
    const offload = this.o.offload && hello.offload;
    const s: Session = { pk, addr, mtu, offload, sock, counters: new Counters(), lastHeard: Date.now() };
    this.byAddr.set(addr, s);
    this.byPk.set(pk, s);
    sock.write(
      encodeJson(FrameType.Assign, { address: intToIp(addr), prefixLen: this.o.subnet.prefixLen, gateway: this.pool.gatewayIp, mtu, offload }),
    );
    this.o.log.info('client connected', { pk: short, address: intToIp(addr), mtu, offload });
    return s;
  }

  private endSession(s: Session, why: string): void {
    if (this.byPk.get(s.pk) !== s) return;
    this.byPk.delete(s.pk);
    this.byAddr.delete(s.addr);
    this.pool.release(s.addr);
    s.sock.destroy();
    this.o.log.info('client disconnected', { pk: s.pk.slice(0, 8), address: intToIp(s.addr), why, ...s.counters.snapshot() });
  }

  /** An OFFLOAD_PACKET: only in a session that agreed to offloads, with fields that fit the packet. */
  private fromClientOffload(s: Session, body: Buffer): void {
    const parsed = s.offload ? parseOffloadBody(body) : null;
    if (!parsed) {
      this.dropFromClient(s, 'bad_offload', 'offload frame from client dropped');
      return;
    }
    this.fromClient(s, parsed.packet, parsed.offload);
  }

  /** A packet from a client: only whole IPv4 packets from the client's own address reach the TUN device. */
  private fromClient(s: Session, pkt: Buffer, offload?: Offload): void {
    const problem = checkIpv4(pkt) ?? (offload ? checkOffload(pkt, offload, s.mtu) : undefined);
    if (problem) {
      this.dropFromClient(s, problem, 'malformed packet from client dropped');
      return;
    }
    if (srcOf(pkt) !== s.addr) {
      this.dropFromClient(s, 'spoofed_source', 'packet from client with a source that is not its address dropped', {
        source: intToIp(srcOf(pkt)),
        address: intToIp(s.addr),
      });
      return;
    }
    s.counters.packetsIn++;
    s.counters.bytesIn += pkt.length;
    this.counters.packetsIn++;
    this.counters.bytesIn += pkt.length;
    if (this.tun && !writeToDevice(this.tun, pkt, offload)) this.counters.drop('tun_write');
  }

  private dropFromClient(s: Session, reason: string, msg: string, extra: Record<string, unknown> = {}): void {
    s.counters.drop(reason);
    const n = this.counters.drop(reason);
    if (worthLogging(n)) this.o.log.warn(msg, { pk: s.pk.slice(0, 8), reason, count: n, ...extra });
  }

  /** Packets the kernel routed into the TUN device, grouped by client so each gets one write. */
  private fromTun(packets: Buffer[], offloads?: Offload[]): void {
    for (const p of packets) noteDataBytes(p.length);
    const out = new Map<Session, Outbound>();
    for (let i = 0; i < packets.length; i++) {
      const pkt = packets[i];
      const off = offloads?.[i];
      if (checkIpv4(pkt)) {
        this.counters.drop('tun_not_ipv4');
        continue;
      }
      const s = this.byAddr.get(dstOf(pkt));
      if (!s) {
        this.counters.drop('no_session');
        continue;
      }
      if (largestSegment(pkt, off) > s.mtu) {
        // (a GSO packet's segments too large for this client: each is answered as a router would)
        for (const p of segmentsOf(pkt, off)) this.tooBig(p, s.mtu);
        continue;
      }
      let list = out.get(s);
      if (!list) out.set(s, (list = new Outbound(s.offload)));
      list.add(pkt, off);
    }
    for (const [s, list] of out) {
      if (s.sock.writableLength > MAX_QUEUED) {
        s.counters.drop('congestion');
        this.counters.drop('congestion');
        continue;
      }
      for (const c of [s.counters, this.counters]) {
        c.packetsOut += list.packets.length;
        c.bytesOut += list.bytes;
      }
      s.sock.write(list.encode());
    }
  }

  /**
   * Too big for the client's MTU: tell the sender (ICMP frag needed) when it asked not to fragment.
   * The reply comes from the client's address, i.e. from beyond the TUN device: a source that is one of
   * this host's own addresses (the gateway) would be dropped by the kernel as a martian.
   */
  private tooBig(pkt: Buffer, mtu: number): void {
    this.counters.drop('too_big');
    if (dontFragment(pkt) && !isIcmpError(pkt)) this.tun?.write(buildFragNeeded(pkt, dstOf(pkt), mtu));
  }

  private keepalive(intervalMs: number): void {
    const now = Date.now();
    for (const s of this.byPk.values()) {
      if (now - s.lastHeard > intervalMs * 3) {
        this.endSession(s, `silent for ${Math.round((now - s.lastHeard) / 1000)} s`);
        continue;
      }
      s.sock.write(encodeFrame(FrameType.Keepalive));
    }
  }
}
