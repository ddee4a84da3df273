// A small internet in the lab: one router namespace ("inet") and, hung off it on its own routed /30 each,
// public hosts and home networks. A home network is a router doing NAT (nftables masquerade, as home routers
// do; optionally with random ports, the "symmetric" kind, and port forwards) with one host behind it on a LAN.
// Public addresses come from 203.0.113.0/24 (TEST-NET-3, documentation-only: never routed on the internet);
// everything stays inside this run's namespaces.
import type { Host, Lab } from './lab.js';

export interface PublicHost {
  host: Host;
  ip: string;
}

export interface HomeNetwork {
  router: Host;
  host: Host;
  /** The router's public address (what the messengers observe for the host). */
  publicIp: string;
  /** The host's address on the LAN behind the router. */
  lanIp: string;
}

export interface HomeOptions {
  /** `masquerade random`: a new random public port per connection (punching cannot work through it). */
  randomPorts?: boolean;
  /** TCP ports forwarded from the router's public address to the same port of the host. */
  forward?: number[];
  /**
   * Drop unsolicited connections to the router itself silently, as most home routers do, instead of answering
   * them with a reset (the Linux default when nothing listens).
   */
  silent?: boolean;
  /** One-way delay on the router's link to the internet (lab.link's netem: user space where the kernel lacks it). */
  delayMs?: number;
}

export class Internet {
  private attached = 0;
  private homes = 0;

  private constructor(
    readonly lab: Lab,
    readonly router: Host,
  ) {}

  static async create(lab: Lab): Promise<Internet> {
    const router = await lab.host('inet');
    await router.run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    return new Internet(lab, router);
  }

  /** Links `h` to the internet router on a /30 of its own, with a default route there; returns h's address. */
  private async attach(h: Host, delayMs?: number): Promise<string> {
    const i = this.attached++;
    if (i >= 63) throw new Error('the lab internet has room for 63 attachments');
    const [r, me] = [`203.0.113.${4 * i + 1}`, `203.0.113.${4 * i + 2}`];
    const { bDev } = await this.lab.link(this.router, h, { a: `${r}/30`, b: `${me}/30`, ...(delayMs ? { netem: { delayMs } } : {}) });
    await h.run('ip', ['route', 'add', 'default', 'via', r]);
    await operUp(h, bDev);
    return me;
  }

  async publicHost(name: string): Promise<PublicHost> {
    const host = await this.lab.host(name);
    return { host, ip: await this.attach(host) };
  }

  /** A home router `r-<name>` masquerading for host `name` behind it. */
  async home(name: string, o: HomeOptions = {}): Promise<HomeNetwork> {
    const k = ++this.homes;
    const router = await this.lab.host(`r-${name}`);
    const host = await this.lab.host(name);
    const publicIp = await this.attach(router, o.delayMs);
    const lanIp = `10.${100 + k}.0.2`;
    const { bDev } = await this.lab.link(router, host, { a: `10.${100 + k}.0.1/24`, b: `${lanIp}/24` });
    await operUp(host, bDev);
    await host.run('ip', ['route', 'add', 'default', 'via', `10.${100 + k}.0.1`]);
    await router.run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    const wan = 'v-inet';
    const rules = [
      'table ip nat {',
      '  chain pre { type nat hook prerouting priority dstnat; policy accept;',
      ...(o.forward ?? []).map((p) => `    iifname "${wan}" tcp dport ${p} dnat to ${lanIp}:${p}`),
      '  }',
      '  chain post { type nat hook postrouting priority srcnat; policy accept;',
      `    oifname "${wan}" masquerade${o.randomPorts ? ' random' : ''}`,
      '  }',
      '}',
      // As a home router: nothing from outside reaches the LAN unless it answers a connection from inside
      // or is forwarded.
      'table ip filter {',
      ...(o.silent ? ['  chain input { type filter hook input priority filter; policy accept;', `    iifname "${wan}" ct state new drop`, '  }'] : []),
      '  chain forward { type filter hook forward priority filter; policy drop;',
      '    ct state established,related accept',
      `    iifname != "${wan}" accept`,
      '    ct status dnat accept',
      '  }',
      '}',
    ].join('\n');
    await applyNft(router, rules);
    return { router, host, publicIp, lanIp };
  }

  /** Switches a home router between `masquerade` and `masquerade random` (new connections only). */
  async setRandomPorts(home: HomeNetwork, random: boolean): Promise<void> {
    await applyNft(home.router, `flush chain ip nat post\nadd rule ip nat post oifname "v-inet" masquerade${random ? ' random' : ''}\n`);
  }
}

async function applyNft(h: Host, rules: string): Promise<void> {
  const { spawn } = await import('node:child_process');
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', h.ns, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft in ${h.name} failed (${code}): ${err.trim()}\n${rules}`))));
    child.stdin.end(rules);
  });
}

/**
 * Waits until `dev` is operationally up: the kernel marks a new veth running a moment after both ends are set
 * up, and until then a program listing the interfaces (os.networkInterfaces) does not see its address.
 */
async function operUp(h: Host, dev: string): Promise<void> {
  const end = Date.now() + 5000;
  for (let delay = 10; ; delay = Math.min(200, delay * 2)) {
    const out = await h.run('ip', ['-o', 'link', 'show', 'dev', dev]);
    // A veth says "state UP"; a TUN device of a relayed (delayed) link says UNKNOWN with its carrier up.
    if (/state UP\b|LOWER_UP[^>]*>.*state UNKNOWN/.test(out)) return;
    if (Date.now() > end) throw new Error(`${h.name}: ${dev} is not up after 5 s: ${out}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
