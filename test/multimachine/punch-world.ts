// What the punch tests share: a node on each of two home networks, a SOCKS exit beside the first one and a
// SOCKS proxy beside the second pointing at it (so an ordinary TCP stream crosses the link between them), and
// an echo server and a 100 MB source server on the public host S as the far ends of those streams.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { LabProcess } from '../netns/lab.js';
import type { HomeNetwork } from '../netns/internet.js';
import { CLI, ENV, machine, startNode, type Core, type Machine, type StartedNode } from './nat-world.js';
import { sourceSha256 } from './source-data.js';

const TOOL = fileURLToPath(new URL('./stream-tool.js', import.meta.url));
export const ECHO_PORT = 9000;
export const SOURCE_PORT = 9001;
const PROXY_PORT = 1080;
export const BIG = 100 * 1024 * 1024;

export interface PunchPair {
  one: Machine;
  two: Machine;
  a: StartedNode;
  b: StartedNode;
}

/** The far ends on S: an echo server and a server sending 100 MB of known data to each connection. */
export async function startServers(core: Core): Promise<void> {
  await core.s.host.spawn(process.execPath, [TOOL, 'echo-server', String(ECHO_PORT)]).waitFor(/ready/);
  await core.s.host.spawn(process.execPath, [TOOL, 'source-server', String(SOURCE_PORT), String(BIG)]).waitFor(/ready/);
}

/** Node A behind `h1`; node B behind `h2` keeping a transport to A; a SOCKS path from B out at A. */
export async function startPair(core: Core, h1: HomeNetwork, h2: HomeNetwork, dirs: string[], envB: NodeJS.ProcessEnv = {}): Promise<PunchPair> {
  const one = machine(h1.host, dirs);
  const two = machine(h2.host, dirs);
  const a = await startNode(one, core);
  await one.host.spawn(process.execPath, [CLI, 'socks-server', '--api-file', a.apiFile], { env: ENV }).waitFor(/socks-server: serving mesh port/);
  const b = await startNode(two, core, ['--connect', a.pk], envB);
  await two.host
    .spawn(process.execPath, [CLI, 'socks-client', '--api-file', b.apiFile, '--server', a.pk, '--listen', `127.0.0.1:${PROXY_PORT}`], { env: ENV })
    .waitFor(/socks-client: SOCKS5 on/);
  return { one, two, a, b };
}

/** A stream through B's proxy to the echo server on S, pumping until told to stop (see stream-tool.ts). */
export function startPump(p: PunchPair, core: Core): LabProcess {
  return p.two.host.spawn(process.execPath, [TOOL, 'pump', String(PROXY_PORT), core.s.ip, String(ECHO_PORT)]);
}

/** Stops a pump and asserts that every byte came back, in order. */
export async function finishPump(pump: LabProcess): Promise<number> {
  pump.kill('SIGUSR2');
  const m = await pump.waitFor(/done sent=(\d+) got=(\d+) same=(\w+)/, 20_000, 'stdout');
  assert.equal(m[2], m[1], 'every byte came back');
  assert.equal(m[3], 'true', 'in order and intact (SHA-256 of what was sent and what came back)');
  return Number(m[1]);
}

/** Fetches the 100 MB from the source server on S through B's proxy (so over the link B-A). */
export async function fetchSource(p: PunchPair, core: Core): Promise<{ bytes: number; sha256: string; ms: number }> {
  const sink = p.two.host.spawn(process.execPath, [TOOL, 'sink', String(PROXY_PORT), core.s.ip, String(SOURCE_PORT)]);
  const m = await sink.waitFor(/done bytes=(\d+) sha256=(\w+) ms=(\d+)/, 60_000, 'stdout');
  return { bytes: Number(m[1]), sha256: m[2], ms: Number(m[3]) };
}

/** Fetches the 100 MB and checks that all arrived, intact (SHA-256). */
export async function fetchBig(p: PunchPair, core: Core): Promise<void> {
  const r = await fetchSource(p, core);
  assert.equal(r.bytes, BIG, 'all 100 MB arrived');
  assert.equal(r.sha256, sourceSha256(BIG), 'intact (SHA-256)');
}
