// A Linux TUN device through the small native addon in native/tun (see docs/vpn.md for why an addon).
// Each read is one IP packet (IFF_NO_PI); packets arrive in batches on Node's own event loop.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Offload, VNET_HDR_LEN, buildVnetHdr, parseVnetHdr } from './gso.js';

interface TunAddon {
  open(name: string, offload: boolean): { fd: number; name: string };
  /** cb(lengths): the packets lie back to back in `slab` (reused per batch); cb(null, error) once when the device fails. */
  startReader(fd: number, mtu: number, slab: Buffer, cb: (lengths: number[] | null, error?: string) => void): object;
  stopReader(reader: object): void;
  pauseReader(reader: object, paused: boolean): void;
  write(fd: number, packet: Buffer): boolean;
  writev(fd: number, header: Buffer, packet: Buffer): boolean;
  close(fd: number): void;
  raiseAmbientNetAdmin(): boolean;
}

const ADDON_PATH = join('native', 'tun', 'build', 'Release', 'skywire_tun.node');
let addon: TunAddon | undefined;

/** Finds the addon by walking up from this module, so it loads from dist/, .build/<x>/ or any outDir. */
export function findAddon(): string | undefined {
  if (process.env.SKYWIRE_TUN_ADDON) return process.env.SKYWIRE_TUN_ADDON;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, ADDON_PATH);
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export function loadTunAddon(): TunAddon {
  if (addon) return addon;
  if (process.platform !== 'linux') {
    throw new Error(`the VPN is not supported on ${process.platform} yet (Linux only for now)`);
  }
  const path = findAddon();
  if (!path) {
    throw new Error(`the TUN addon is not built (${ADDON_PATH} not found): run "npm run build" first`);
  }
  addon = createRequire(import.meta.url)(path) as TunAddon;
  return addon;
}

export class TunDevice {
  private reader: object | undefined;
  private closed = false;
  private paused = false;

  private constructor(
    private readonly lib: TunAddon,
    readonly fd: number,
    readonly name: string,
    /** Opened with IFF_VNET_HDR and TSO4/checksum offloads (gso.ts): packets come with their offload fields. */
    readonly offload: boolean,
  ) {}

  /**
   * Creates (or attaches to) the TUN interface `name`; with `offload`, the kernel hands it TCP segments of up to
   * 64 KB and leaves checksums to the far end (gso.ts). It vanishes when the process closes it or dies.
   */
  static open(name: string, offload = false): TunDevice {
    const lib = loadTunAddon();
    try {
      const { fd, name: actual } = lib.open(name, offload);
      return new TunDevice(lib, fd, actual, offload);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EPERM' || e.code === 'EACCES') {
        throw new Error(`cannot create TUN device "${name}": permission denied (CAP_NET_ADMIN is needed)`, { cause: err });
      }
      if (e.code === 'ENOENT') throw new Error('cannot create a TUN device: /dev/net/tun does not exist (modprobe tun)', { cause: err });
      if (e.code === 'EBUSY') throw new Error(`TUN device "${name}" is already in use by another process`, { cause: err });
      throw new Error(`cannot create TUN device "${name}": ${e.message}`, { cause: err });
    }
  }

  /**
   * Starts delivering packets read from the device; `maxPacket` sizes the read buffer. The packets are views
   * of one slab reused for every batch: valid until `cb` returns, so copy what is kept longer. `onFailure` is
   * called once if the device fails for good (e.g. someone deleted it with `ip link del`).
   */
  onPackets(maxPacket: number, cb: (packets: Buffer[], offloads?: Offload[]) => void, onFailure: (err: Error) => void): void {
    if (this.reader || this.closed) return;
    const slab = Buffer.allocUnsafeSlow(slabBytes(maxPacket, this.offload));
    this.reader = this.lib.startReader(this.fd, maxPacket, slab, (lengths, error) => {
      try {
        if (lengths) {
          const packets = splitBatch(slab, lengths, PER_PACKET);
          if (!this.offload) cb(packets);
          else {
            const offloads = packets.map((p) => parseVnetHdr(p));
            cb(
              packets.map((p) => p.subarray(VNET_HDR_LEN)),
              offloads,
            );
          }
        } else onFailure(new Error(`TUN device ${this.name} failed: ${error ?? 'unknown error'}`));
      } catch (err) {
        // An exception must not escape into native code; report it on the next tick like any other.
        process.nextTick(() => {
          throw err;
        });
      }
    });
  }

  /**
   * Backpressure: stop reading while the far side is congested. Packets then wait in the kernel's queue for
   * the device (txqueuelen); a local TCP sender is held back by TCP Small Queues instead of losing packets.
   */
  pauseReading(paused: boolean): void {
    if (this.reader && !this.closed && paused !== this.paused) this.lib.pauseReader(this.reader, paused);
    this.paused = paused;
  }

  /** Writes one packet (with its offload fields on an offload device); false when the kernel dropped it. */
  write(packet: Buffer, offload?: Offload): boolean {
    if (this.closed) return false;
    if (!this.offload) return this.lib.write(this.fd, packet);
    return this.lib.writev(this.fd, offload?.needsCsum ? buildVnetHdr(packet, offload) : ZERO_VNET_HDR, packet);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reader) this.lib.stopReader(this.reader);
    this.reader = undefined;
    this.lib.close(this.fd);
  }
}

/**
 * `SKYWIRE_VPN_TUN_BATCH=per-packet`: one allocation per packet, as before issue 13 (for the memory bench's
 * comparison in one run).
 */
const PER_PACKET = process.env.SKYWIRE_VPN_TUN_BATCH === 'per-packet';

/** The header of a packet without offloads: complete checksums, not GSO. */
const ZERO_VNET_HDR = Buffer.alloc(VNET_HDR_LEN);

/** Room for one batch: the largest read (a 65535-byte packet and its header) plus 64 packets of the MTU, or 4 GSO packets. */
export function slabBytes(mtu: number, offload: boolean): number {
  const largest = Math.max(mtu, 65535) + 16;
  return offload ? 4 * largest : largest + 64 * Math.min(Math.max(mtu, 576), 65535);
}

/**
 * The packets of one batch as views of its buffer (no copies). They are valid as long as the batch is; the
 * VPN copies what it keeps (into frames, ICMP replies) before the callback returns.
 */
export function splitBatch(batch: Buffer, lengths: number[], copy = false): Buffer[] {
  const out = new Array<Buffer>(lengths.length);
  let off = 0;
  for (let i = 0; i < lengths.length; i++) {
    const view = batch.subarray(off, off + lengths[i]);
    out[i] = copy ? Buffer.from(view) : view;
    off += lengths[i];
  }
  return out;
}
