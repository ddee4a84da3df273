// Shared by the metering tests on real node processes: the CLI, a transfer A -> C over a route with hops, and
// the node's metering view.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { AppClient } from '../../src/node/sdk/index.js';
import { join } from 'node:path';
import { CLI, dialRetry, testCluster, waitTransports, type Cluster } from '../node/harness.js';

export function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, SIGNAL_CLIENT: 'false' }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * Three metered node processes in a chain A - B - C with their transports up; `from` is a period start before any
 * traffic, `keys` the key files of A, B and C (for the metering CLI).
 */
export async function meteredChain(t: Parameters<typeof testCluster>[0]) {
  const { c, apps } = testCluster(t);
  const from = new Date(Date.now() - 1000).toISOString();
  await c.startCore();
  const a = await c.node([], ['--metering']);
  const b = await c.node([a.pk], ['--metering']);
  const cc = await c.node([b.pk], ['--metering']);
  await waitTransports(b, [a.pk]);
  await waitTransports(cc, [b.pk]);
  const keys = ['node0.json', 'node1.json', 'node2.json'].map((f) => join(c.dir, f)) as [string, string, string];
  return { c, apps, from, a, b, cc, keys };
}

/** Sends `total` bytes on a fresh stream A -> C through B and waits until C read them all and the stream closed. */
export async function transfer(c: Cluster, a: { apiFile: string }, cc: { apiFile: string; pk: string }, total: number, apps: AppClient[]): Promise<void> {
  const sink = await AppClient.connect({ apiFile: cc.apiFile, name: 'sink', port: 9 });
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'src' });
  apps.push(sink, client);
  const got = new Promise<number>((resolve, reject) => {
    sink.listen((sock: Socket) => {
      let n = 0;
      sock.on('data', (d: Buffer) => (n += d.length));
      sock.on('end', () => {
        sock.end();
        resolve(n);
      });
      sock.on('error', reject);
    });
  });
  const sock = await dialRetry(client, cc.pk, 9, { minHops: 2 });
  const block = randomBytes(1 << 20);
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    sock.on('error', reject);
    const more = () => {
      while (sent < total) {
        sent += block.length;
        if (!sock.write(block)) return void sock.once('drain', more);
      }
      sock.end(resolve);
    };
    more();
  });
  assert.equal(await got, total);
  sock.destroy();
  void c;
}

export interface Row {
  dir: string;
  peer: string;
  routeId: number;
  bytes: number;
  signedBytes: number;
  live: boolean;
}

export async function view(keyFile: string): Promise<Row[]> {
  const r = await cli(['metering', '--key', keyFile, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { routes: Row[] }).routes;
}

