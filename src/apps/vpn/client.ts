// vpn-client: dials a vpn-server over the mesh, takes the address it is given, and routes either
// everything (keeping the paths to its own transports outside the tunnel) or only the named subnets.
// While the route is down the TUN device and routes stay up, so traffic waits instead of leaking outside.
import type { Duplex } from 'node:stream';
import { Backoff } from '../../util/backoff.js';
import type { Logger } from '../../util/log.js';
import { Counters, worthLogging } from './counters.js';
import { type Cidr, buildFragNeeded, checkIpv4, dontFragment, dstOf, formatCidr, ipToInt, isIcmpError } from './ipv4.js';
import {
  type Assign,
  type Frame,
  FrameType,
  PROTOCOL_VERSION,
  VPN_SERVICE,
  type VpnErrorBody,
  createFrameReader,
  encodeFrame,
  encodeJson,
  parseAssign,
  parseErrorBody,
  parseOffloadBody,
} from './protocol.js';
import { TunDevice } from './tun.js';
import { noteDataBytes } from '../../util/young-gen.js';
import { GSO_MAX_SIZE, type Offload, checkOffload, largestSegment, writeToDevice } from './gso.js';
import { Outbound, segmentsOf } from './outbound.js';
import { NetJournal, addRoute, configureLink, currentRoute, run } from './netconfig.js';
import type { DialOptions, MeshTransport } from './transport.js';

export interface VpnClientOptions {
  transport: MeshTransport;
  /** The server's public key (hex), or "auto" to take one that announces the vpn service. */
  server: string;
  port: number;
  hops?: number;
  device: string;
  mtu: number;
  /** Ask for TUN offloads (IFF_VNET_HDR, TSO4, checksum; gso.ts); used when the server has them too. */
  offload: boolean;
  /** Only these subnets go through the tunnel; undefined = all traffic. */
  subnets?: Cidr[];
  /** IPv4 addresses that stay outside a full tunnel (besides the transport's own). */
  exclude: string[];
  stateDir: string;
  log: Logger;
  keepaliveMs?: number;
  /**
   * Until the first session is up: give up (VpnFatalError 'unreachable') after this long without one;
   * 0 = retry forever. After a session was up the client always reconnects (its routes keep traffic in).
   */
  giveUpMs?: number;
  /** Called when the client cannot go on (its TUN device was removed under it). */
  onFatal?: (err: Error) => void;
  /** Called each time a session is established (first time and after each reconnect). */
  onUp?: (a: Assign & { server: string; device: string }) => void;
}

/** A failure that retrying will not fix: the client exits with its message. */
export class VpnFatalError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The server refused (key not allowed, no free address, incompatible server). */
export class VpnRefusedError extends VpnFatalError {}

/**
 * Congestion towards the server: past PAUSE_AT bytes queued on the stream the client stops reading its TUN
 * device until the stream drains (backpressure: the packets wait in the kernel's device queue and a local TCP
 * sender is held back by TCP Small Queues, instead of losing packets and backing off). As before issue 13,
 * `SKYWIRE_VPN_CONGESTION=drop` drops batches past MAX_QUEUED instead (the bench's "before").
 */
const PAUSE_AT = 256 * 1024;
const MAX_QUEUED = 512 * 1024;
const DROP_WHEN_CONGESTED = process.env.SKYWIRE_VPN_CONGESTION === 'drop';

export class VpnClient {
  readonly counters = new Counters();
  private readonly journal: NetJournal;
  private tun: TunDevice | undefined;
  private assigned: Assign | undefined;
  private sock: Duplex | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(private readonly o: VpnClientOptions) {
    this.journal = new NetJournal(o.stateDir, 'vpn-client', o.device, o.log);
  }

  /** Connects and keeps reconnecting until stop(); rejects with VpnRefusedError when the server refuses. */
  async run(): Promise<void> {
    const { o } = this;
    await this.journal.recover();
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
    const startedAt = Date.now();
    let attempt = 0;
    /** How long to wait before the next attempt; throws when the client should give up instead. */
    const retryDelay = (lastError: string): number => {
      attempt++;
      const delay = backoff.next();
      const giveUpMs = o.giveUpMs ?? 0;
      if (this.assigned || !giveUpMs) return delay;
      const left = startedAt + giveUpMs - Date.now();
      if (left <= 0) {
        const who = o.server === 'auto' ? 'announcing the vpn service' : `${o.server.slice(0, 8)}…`;
        throw new VpnFatalError(
          'unreachable',
          `gave up: no session with the vpn-server ${who} within ${giveUpMs / 1000} s (last error: ${lastError}); ` +
            'raise --give-up-after, or 0 to retry forever',
        );
      }
      return Math.min(delay, left);
    };
    while (!this.stopped) {
      let server = o.server;
      try {
        const target = await this.resolveServer();
        server = target.pk.slice(0, 8) || 'direct';
        const dialOpts: DialOptions | undefined = o.hops ? { minHops: o.hops, maxHops: o.hops } : undefined;
        const sock = await o.transport.dial(target.pk, target.port, dialOpts);
        const started = Date.now();
        const why = await this.session(sock, target.pk);
        if (this.stopped) break;
        if (Date.now() - started > 10_000) backoff.reset();
        const delay = retryDelay(why);
        o.log.error('route to the vpn-server lost; reconnecting', { server, why, attempt, retryInMs: delay });
        await this.sleep(delay);
      } catch (err) {
        if (err instanceof VpnFatalError || this.stopped) throw err;
        const code = (err as { code?: string }).code;
        if (code === 'closed' || code === 'no_node') {
          // The app's connection to its node is gone (node stopped): its session there cannot come back.
          throw new VpnFatalError('node_closed', `lost the connection to the node (${(err as Error).message})`);
        }
        const delay = retryDelay((err as Error).message);
        o.log.error('cannot reach the vpn-server; retrying', { server, err: err as Error, attempt, retryInMs: delay });
        await this.sleep(delay);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    this.sock?.destroy();
    await this.o.transport.close().catch(() => {});
    this.tun?.close();
    await this.journal.finish();
    this.o.log.info('vpn-client stopped', this.counters.snapshot());
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async resolveServer(): Promise<{ pk: string; port: number }> {
    if (this.o.server !== 'auto') return { pk: this.o.server, port: this.o.port };
    const found = await this.o.transport.query(VPN_SERVICE);
    if (!found.length) throw new Error('no node announces the vpn service yet');
    return found[Math.floor(Math.random() * found.length)];
  }

  /** One session on `sock`; resolves with why it ended. Throws VpnRefusedError if the server refuses. */
  private session(sock: Duplex, serverPk: string): Promise<string> {
    const { o } = this;
    this.sock = sock;
    const reader = createFrameReader();
    const keepaliveMs = o.keepaliveMs ?? 5000;
    return new Promise<string>((resolve, reject) => {
      let up = false;
      let lastHeard = Date.now();
      let settled = false;
      const finish = (why: string | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(helloTimer);
        clearInterval(ticker);
        this.sock = undefined;
        sock.destroy();
        if (why instanceof Error) reject(why);
        else resolve(why);
      };
      const helloTimer = setTimeout(() => finish('no answer to HELLO within 10 s'), 10_000);
      const ticker = setInterval(() => {
        if (Date.now() - lastHeard > keepaliveMs * 3) finish(`nothing heard from the server for ${(keepaliveMs * 3) / 1000} s`);
        else if (up) sock.write(encodeFrame(FrameType.Keepalive));
      }, keepaliveMs);
      sock.on('error', (err) => finish(err.message));
      sock.on('close', () => finish('stream closed'));
      sock.on('data', (chunk: Buffer) => {
      noteDataBytes(chunk.length);
        lastHeard = Date.now();
        let frames: Frame[];
        try {
          frames = reader.push(chunk);
        } catch (err) {
          finish(`malformed frame from server: ${(err as Error).message}`);
          return;
        }
        for (const f of frames) {
          if (up) {
            if (f.type === FrameType.Packet) this.fromServer(f.body);
            else if (f.type === FrameType.OffloadPacket) this.fromServerOffload(f.body);
          } else if (f.type === FrameType.Assign) {
            clearTimeout(helloTimer);
            let a: Assign;
            try {
              a = parseAssign(f.body);
            } catch (err) {
              finish(err as Error);
              return;
            }
            up = true;
            this.bringUp(a).then(
              () => this.o.onUp?.({ ...a, server: serverPk, device: this.tun?.name ?? o.device }),
              (err: Error) => finish(err),
            );
          } else if (f.type === FrameType.Error) {
            let e: VpnErrorBody;
            try {
              e = parseErrorBody(f.body);
            } catch (err) {
              finish(err as Error);
              return;
            }
            finish(new VpnRefusedError(e.code, `the vpn-server refused: ${e.message}`));
            return;
          }
        }
      });
      // Once the device exists its mode is fixed: later sessions ask for what it has.
      sock.write(encodeJson(FrameType.Hello, { v: PROTOCOL_VERSION, mtu: o.mtu, offload: this.tun ? this.tun.offload : o.offload }));
    });
  }

  /** First session: create and configure the device and routes. Later ones: adjust address and MTU. */
  private async bringUp(a: Assign): Promise<void> {
    const { o } = this;
    const prev = this.assigned;
    this.assigned = a;
    const cidrAddr = `${a.address}/${a.prefixLen}`;
    if (!this.tun) {
      this.tun = TunDevice.open(o.device, a.offload);
      await configureLink(this.journal, this.tun.name, cidrAddr, a.mtu, a.offload ? GSO_MAX_SIZE : undefined);
      await this.addRoutes(this.tun.name);
      this.tun.onPackets(
        Math.max(a.mtu, o.mtu),
        (packets, offloads) => this.fromTun(packets, offloads),
        (err) => {
          o.log.error('TUN device failed; stopping', { err });
          o.onFatal?.(err);
        },
      );
      return;
    }
    if (prev && (prev.address !== a.address || prev.prefixLen !== a.prefixLen)) {
      await run('ip', ['addr', 'flush', 'dev', this.tun.name]);
      await run('ip', ['addr', 'add', cidrAddr, 'dev', this.tun.name]);
      await this.addRoutes(this.tun.name);
    }
    if (!prev || prev.mtu !== a.mtu) await run('ip', ['link', 'set', 'dev', this.tun.name, 'mtu', String(a.mtu)]);
  }

  private async addRoutes(dev: string): Promise<void> {
    const { o } = this;
    if (o.subnets) {
      for (const c of o.subnets) await addRoute(this.journal, [formatCidr(c), 'dev', dev]);
      return;
    }
    // Pin the current path to every underlay address first, then cover the whole space with two /1 routes:
    // they win over the default route without replacing it, so removing them restores the host as it was.
    for (const ip of new Set([...o.transport.underlayAddresses(), ...o.exclude])) {
      const r = await currentRoute(ip);
      if (!r || r.dev === dev) {
        o.log.warn('no route outside the tunnel for an excluded address', { ip });
        continue;
      }
      await addRoute(this.journal, [`${ip}/32`, ...(r.via ? ['via', r.via] : []), 'dev', r.dev]);
    }
    await addRoute(this.journal, ['0.0.0.0/1', 'dev', dev]);
    await addRoute(this.journal, ['128.0.0.0/1', 'dev', dev]);
  }

  private fromTun(packets: Buffer[], offloads?: Offload[]): void {
    for (const p of packets) noteDataBytes(p.length);
    const a = this.assigned;
    const sock = this.sock;
    if (!a || !sock) {
      this.counters.drop('route_down');
      return;
    }
    const out = new Outbound(a.offload);
    for (let i = 0; i < packets.length; i++) {
      const pkt = packets[i];
      const off = offloads?.[i];
      if (checkIpv4(pkt)) this.counters.drop('tun_not_ipv4');
      // Larger than the route carries: answer like a router would, so the sender's PMTU discovery adapts.
      else if (largestSegment(pkt, off) > a.mtu) for (const p of segmentsOf(pkt, off)) this.tooBig(p, a);
      else out.add(pkt, off);
    }
    if (!out.packets.length) return;
    if (DROP_WHEN_CONGESTED && sock.writableLength > MAX_QUEUED) {
      this.counters.drop('congestion');
      return;
    }
    this.counters.packetsOut += out.packets.length;
    this.counters.bytesOut += out.bytes;
    sock.write(out.encode());
    if (!DROP_WHEN_CONGESTED && sock.writableLength > PAUSE_AT) this.holdTun(sock);
  }

  /** Stops reading the TUN device until `sock` drains (or ends: a new session starts reading again). */
  private holdTun(sock: Duplex): void {
    const tun = this.tun;
    if (!tun) return;
    tun.pauseReading(true);
    const resume = () => {
      sock.off('drain', resume);
      sock.off('close', resume);
      tun.pauseReading(false);
    };
    sock.on('drain', resume);
    sock.on('close', resume);
  }

  private tooBig(pkt: Buffer, a: Assign): void {
    this.counters.drop('too_big');
    if (dontFragment(pkt) && !isIcmpError(pkt)) this.tun?.write(buildFragNeeded(pkt, ipToInt(a.gateway), a.mtu));
  }

  /** An OFFLOAD_PACKET: only in a session that agreed to offloads, with fields that fit the packet. */
  private fromServerOffload(body: Buffer): void {
    const parsed = this.assigned?.offload ? parseOffloadBody(body) : null;
    if (!parsed) {
      const n = this.counters.drop('bad_offload');
      if (worthLogging(n)) this.o.log.warn('offload frame from server dropped', { count: n });
      return;
    }
    this.fromServer(parsed.packet, parsed.offload);
  }

  private fromServer(pkt: Buffer, offload?: Offload): void {
    const a = this.assigned;
    const problem = checkIpv4(pkt) ?? (offload && a ? checkOffload(pkt, offload, a.mtu) : undefined);
    if (problem || !a || dstOf(pkt) !== ipToInt(a.address)) {
      const reason = problem ?? 'not_for_us';
      const n = this.counters.drop(reason);
      if (worthLogging(n)) this.o.log.warn('packet from server dropped', { reason, count: n });
      return;
    }
    this.counters.packetsIn++;
    this.counters.bytesIn += pkt.length;
    if (this.tun && !writeToDevice(this.tun, pkt, offload)) this.counters.drop('tun_write');
  }
}
