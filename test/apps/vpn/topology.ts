// The VPN test network: A (vpn-client) -- C (vpn-server) -- B (web server on a private network).
// A and B have no route to each other; only C's vpn-server can carry A's traffic to B.
import { offloadArgs } from './offload-mode.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Host, Lab, type LabProcess, type Netem } from '../../netns/lab.js';
import { generateKeyPair, pkToHex, writeKeyFile } from '../../../src/net/keys.js';

export const CLI = fileURLToPath(new URL('../../../src/cli/skywire.js', import.meta.url));
const WEB = fileURLToPath(new URL('./web-server.js', import.meta.url));

export const C_ON_A_LINK = '10.201.0.1';
export const A_ADDR = '10.201.0.2';
export const B_ADDR = '192.168.77.2';
export const C_ON_B_LINK = '192.168.77.1';
export const VPN_PORT = 7044;
export const HELLO_URL = `http://${B_ADDR}:8080/hello`;
export const BLOB_URL = `http://${B_ADDR}:8080/blob`;

/** A public key nobody holds (for allowlists that must not match). */
export const newPk = (): string => '02' + randomBytes(32).toString('hex');

export interface KeyFile {
  pk: string;
  file: string;
}

let keyCount = 0;
/** A new key pair written to a key file in `dir`. */
export function newKey(dir: string): KeyFile {
  const kp = generateKeyPair();
  const file = join(dir, `key-${process.pid}-${keyCount++}.json`);
  writeKeyFile(file, kp);
  return { pk: pkToHex(kp.publicKey), file };
}

export interface VpnLab {
  lab: Lab;
  a: Host;
  b: Host;
  c: Host;
  web: LabProcess;
  blobSha: string;
  stateA: string;
  stateC: string;
  /** The direct vpn-server's identity. */
  serverKey: KeyFile;
  cleanup(): Promise<void>;
}

/** A new lab and the vpn's state folders for A and C; `cleanup` removes all three. */
async function labWithStateDirs(): Promise<{ lab: Lab; stateA: string; stateC: string; cleanup(): Promise<void> }> {
  const lab = await Lab.create();
  const stateA = mkdtempSync(join(tmpdir(), 'vpn-state-a-'));
  const stateC = mkdtempSync(join(tmpdir(), 'vpn-state-c-'));
  const cleanup = async () => {
    await lab.cleanup();
    rmSync(stateA, { recursive: true, force: true });
    rmSync(stateC, { recursive: true, force: true });
  };
  return { lab, stateA, stateC, cleanup };
}

/** The web server on B (serving a blob of `blobBytes`, 0 if not given); resolves once it is ready, with the blob's sha256. */
async function startWeb(b: Host, blobBytes?: number): Promise<{ web: LabProcess; blobSha: string }> {
  const web = b.spawn(process.execPath, [WEB, B_ADDR, '8080', String(blobBytes ?? 0)], { label: 'web server' });
  const m = await web.waitFor(/^ready \d+ ([0-9a-f]{64})$/m);
  return { web, blobSha: m[1] };
}

export async function buildVpnLab(o: { netemAC?: Netem; blobBytes?: number } = {}): Promise<VpnLab> {
  const { lab, stateA, stateC, cleanup } = await labWithStateDirs();
  try {
    const a = await lab.host('a');
    const b = await lab.host('b');
    const c = await lab.host('c');
    // netem on C's side: the download direction (C -> A) carries the delay and the loss.
    await lab.link(a, c, { a: `${A_ADDR}/24`, b: `${C_ON_A_LINK}/24`, netem: o.netemAC, netemOn: 'b' });
    await lab.link(c, b, { a: `${C_ON_B_LINK}/24`, b: `${B_ADDR}/24` });
    const { web, blobSha } = await startWeb(b, o.blobBytes);
    return { lab, a, b, c, web, blobSha, stateA, stateC, serverKey: newKey(stateC), cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** vpn-server in C on its secure direct listener (the stand-in for a mesh route). */
export function startServer(l: VpnLab, allow: string[], extra: string[] = [], env?: NodeJS.ProcessEnv): LabProcess {
  const args = ['vpn-server', ...offloadArgs(), '--direct-listen', `${C_ON_A_LINK}:${VPN_PORT}`, '--key', l.serverKey.file];
  return l.c.spawn(process.execPath, [CLI, ...args, '--allow', allow.join(','), '--state-dir', l.stateC, ...extra], {
    label: 'vpn-server',
    env,
  });
}

/** Writes `bytes` random bytes to a file in `dir`; returns its path and SHA-256. */
export function randomFile(dir: string, bytes: number): { file: string; sha: string } {
  const data = randomBytes(bytes);
  const file = join(dir, `upload-${process.pid}-${keyCount++}.bin`);
  writeFileSync(file, data);
  return { file, sha: createHash('sha256').update(data).digest('hex') };
}

/** PUTs `file` from A to B's web server through whatever path A has; resolves with the SHA-256 B computed. */
export async function uploadFromA(l: Pick<VpnLab, 'a'>, file: string): Promise<string> {
  const r = await l.a.exec('curl', ['-sS', '--max-time', '60', '-T', file, `http://${B_ADDR}:8080/sha256`], 70_000);
  if (r.code !== 0) throw new Error(`upload failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** The packet counters a vpn-server logged when it stopped (it must run with LOG_LEVEL=info). */
export function stoppedCounters(server: LabProcess): { packetsIn: number; bytesIn: number; packetsOut: number; bytesOut: number } {
  const line = server.stderr.split('\n').find((x) => x.includes('vpn-server stopped'));
  const num = (k: string) => Number(new RegExp(`"${k}":(\\d+)`).exec(line ?? '')?.[1] ?? NaN);
  return { packetsIn: num('packetsIn'), bytesIn: num('bytesIn'), packetsOut: num('packetsOut'), bytesOut: num('bytesOut') };
}

export function startClient(l: VpnLab, key: KeyFile, extra: string[] = [], env?: NodeJS.ProcessEnv): LabProcess {
  const args = ['vpn-client', ...offloadArgs(), l.serverKey.pk, '--direct', `${C_ON_A_LINK}:${VPN_PORT}`, '--key', key.file];
  return l.a.spawn(process.execPath, [CLI, ...args, '--state-dir', l.stateA, ...extra], { label: 'vpn-client', env });
}

/** curl from A; resolves with curl's exit code and body. Without a route, curl fails at once. */
export async function curlFromA(l: Pick<VpnLab, 'a'>, url = HELLO_URL, extra: string[] = []): Promise<{ code: number; body: string }> {
  const r = await l.a.exec('curl', ['-sS', '--max-time', '8', ...extra, url]);
  return { code: r.code, body: r.stdout };
}

export async function pingFromA(l: Pick<VpnLab, 'a'>, ip = B_ADDR): Promise<boolean> {
  return (await l.a.exec('ping', ['-c', '1', '-W', '2', ip])).code === 0;
}

/** Everything in a host's network configuration the VPN could leave behind. */
export async function netSnapshot(h: Host): Promise<string> {
  const [links, addrs, routes, rules, forward] = await Promise.all([
    h.run('ip', ['-o', 'link', 'show']),
    h.run('ip', ['-4', '-o', 'addr', 'show']),
    h.run('ip', ['-4', 'route', 'show', 'table', 'all']),
    h.run('nft', ['list', 'ruleset']),
    h.run('cat', ['/proc/sys/net/ipv4/ip_forward']),
  ]);
  // Link state and carrier flags change on their own; the names are what the VPN could leave behind.
  const names = links.split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter(Boolean).join(' ');
  return [names, addrs, routes, rules, forward].join('\n---\n').replace(/\s+/g, ' ');
}

/**
 * What the mesh start-ups (here and in bench/vpn) share: `keyFile(n)` writes a new key pair to `<n>.json` in
 * `dir` and returns its public key; `json` parses a --json start-up line; `sky` runs the skywire CLI on a lab
 * host without the signal client.
 */
export function meshTools(dir: string) {
  const env = { SIGNAL_CLIENT: 'false' };
  const keyFile = (n: string) => {
    const kp = generateKeyPair();
    writeKeyFile(join(dir, `${n}.json`), kp);
    return pkToHex(kp.publicKey);
  };
  const json = (line: string) => JSON.parse(line) as Record<string, string>;
  const sky = (h: Host, args: string[], label: string) => h.spawn(process.execPath, [CLI, ...args], { env, label });
  return { keyFile, json, sky };
}

/**
 * Real Skywire nodes on the lab: a messenger, a node manager and node C in C (listening on C's address
 * towards A), node A in A keeping a transport to C. Returns the keys and the nodes' API files.
 */
export async function startMesh(
  l: VpnLab,
  dir: string,
): Promise<{ pkA: string; pkC: string; apiA: string; apiC: string; nodeA: LabProcess; nodeC: LabProcess }> {
  const { keyFile, json, sky } = meshTools(dir);
  const [pkA, pkC] = [keyFile('a'), keyFile('c')];
  const m = sky(l.c, ['messenger', '--listen', `${C_ON_A_LINK}:0`, '--key', join(dir, 'm.json'), '--json'], 'messenger');
  const mInfo = json((await m.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]);
  const messenger = mInfo.address.includes('@') ? mInfo.address : `${mInfo.publicKey}@${mInfo.address}`;
  const nm = sky(l.c, ['node-manager', '--key', join(dir, 'nm.json'), '--messenger', messenger, '--json'], 'node-manager');
  const managerPk = json((await nm.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]).pk;
  const node = (h: Host, n: string, extra: string[]) =>
    sky(h, ['node', '--key', join(dir, `${n}.json`), '--messenger', messenger, '--manager', managerPk, '--json', ...extra], `node ${n}`);
  const nodeC = node(l.c, 'c', ['--listen', `${C_ON_A_LINK}:0`]);
  await nodeC.waitFor(/^\{.*\}$/m, 20_000, 'stdout');
  const nodeA = node(l.a, 'a', ['--no-listen', '--connect', pkC]);
  await nodeA.waitFor(/^\{.*\}$/m, 20_000, 'stdout');
  return { pkA, pkC, apiA: join(dir, 'a.api.json'), apiC: join(dir, 'c.api.json'), nodeA, nodeC };
}

// ---- a mesh route with an intermediate node ------------------------------------------------------------
// A -- R -- C -- B: R runs the messenger, the node manager and node R; A and C have no IP path to each other
// (R does not forward), so the only way from node A to node C is the 2-hop mesh route A -> R -> C.

export const R_ON_A_LINK = '10.202.0.1';
export const A_ON_R_LINK = '10.202.0.2';
export const R_ON_C_LINK = '10.203.0.1';
export const C_ON_R_LINK = '10.203.0.2';

export interface RelayLab extends Omit<VpnLab, 'serverKey'> {
  r: Host;
}

/** The hosts and links; `netemAR` impairs the A-R link (both ways). */
export async function buildRelayLab(o: { netemAR?: Netem; blobBytes?: number } = {}): Promise<RelayLab> {
  const { lab, stateA, stateC, cleanup } = await labWithStateDirs();
  try {
    const [a, r, c, b] = [await lab.host('a'), await lab.host('r'), await lab.host('c'), await lab.host('b')];
    await lab.link(a, r, { a: `${A_ON_R_LINK}/24`, b: `${R_ON_A_LINK}/24`, netem: o.netemAR });
    await lab.link(r, c, { a: `${R_ON_C_LINK}/24`, b: `${C_ON_R_LINK}/24` });
    await lab.link(c, b, { a: `${C_ON_B_LINK}/24`, b: `${B_ADDR}/24` });
    const { web, blobSha } = await startWeb(b, o.blobBytes);
    return { lab, a, r, b, c, web, blobSha, stateA, stateC, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

export interface RelayMesh {
  pkA: string;
  pkR: string;
  pkC: string;
  apiA: string;
  apiC: string;
  apiR: string;
  /** Node R's process, and a way to start it again with the same key and options (after killing it). */
  nodeA: LabProcess;
  nodeC: LabProcess;
  nodeR: LabProcess;
  startNodeR(): LabProcess;
  /** Start node A / C again with the same key and options (after it exited). */
  startNodeA(): LabProcess;
  startNodeC(): LabProcess;
}

/** Extra arguments for node A's and node C's command lines (e.g. a VPN endpoint inside them), given the keys. */
export interface RelayMeshExtras {
  extraA?: (k: { pkA: string; pkR: string; pkC: string }) => string[];
  extraC?: (k: { pkA: string; pkR: string; pkC: string }) => string[];
}

/**
 * Messenger, node manager and node R in R; node A in A and node C in C, each listening on its link to R and
 * reached by R (`--connect`). Resolves once the manager's dashboard shows both transports, i.e. once a
 * 2-hop route A -> R -> C can be set up.
 */
export async function startRelayMesh(l: RelayLab, dir: string, o: RelayMeshExtras = {}): Promise<RelayMesh> {
  const { keyFile, json, sky } = meshTools(dir);
  const [pkA, pkR, pkC] = [keyFile('a'), keyFile('r'), keyFile('c')];
  const m = sky(l.r, ['messenger', '--listen', '0.0.0.0:0', '--key', join(dir, 'm.json'), '--json'], 'messenger');
  const mInfo = json((await m.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]);
  const port = /:(\d+)$/.exec(mInfo.address)![1];
  const messengerAt = (ip: string) => `${mInfo.publicKey}@${ip}:${port}`;
  const nm = sky(l.r, ['node-manager', '--key', join(dir, 'nm.json'), '--messenger', messengerAt('127.0.0.1'), '--web', '127.0.0.1:0', '--json'], 'node-manager');
  const nmInfo = json((await nm.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]);
  const node = (h: Host, n: string, messengerIp: string, extra: string[]) =>
    sky(h, ['node', '--key', join(dir, `${n}.json`), '--messenger', messengerAt(messengerIp), '--manager', nmInfo.pk, '--json', ...extra], `node ${n}`);
  const keys = { pkA, pkR, pkC };
  const startNodeA = () => node(l.a, 'a', R_ON_A_LINK, ['--listen', `${A_ON_R_LINK}:0`, ...(o.extraA?.(keys) ?? [])]);
  const startNodeC = () => node(l.c, 'c', R_ON_C_LINK, ['--listen', `${C_ON_R_LINK}:0`, ...(o.extraC?.(keys) ?? [])]);
  const nodeA = startNodeA();
  const nodeC = startNodeC();
  await Promise.all([nodeA.waitFor(/^\{.*\}$/m, 20_000, 'stdout'), nodeC.waitFor(/^\{.*\}$/m, 20_000, 'stdout')]);
  // The dashboard lives in R's namespace: a helper process there reports when both transports are known.
  const routable = l.r.spawn(process.execPath, [MESH_WAIT, nmInfo.dashboard, `${pkA}-${pkR}`, `${pkR}-${pkC}`], { label: 'mesh wait' });
  const startNodeR = () => node(l.r, 'r', '127.0.0.1', ['--no-listen', '--connect', pkA, '--connect', pkC]);
  const nodeR = startNodeR();
  await nodeR.waitFor(/^\{.*\}$/m, 20_000, 'stdout');
  await routable.waitFor(/^routable$/m, 30_000);
  return { pkA, pkR, pkC, apiA: join(dir, 'a.api.json'), apiC: join(dir, 'c.api.json'), apiR: join(dir, 'r.api.json'), nodeA, nodeC, nodeR, startNodeR, startNodeA, startNodeC };
}

const MESH_WAIT = fileURLToPath(new URL('./mesh-wait.js', import.meta.url));
