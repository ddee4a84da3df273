// The real mesh for the SOCKS tests: `skywire` components in their own processes, and the node manager's
// dashboard as the event that says a route can be built.
import type { TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

export const CLI = fileURLToPath(new URL('../../../src/cli/skywire.js', import.meta.url));

/** Starts `skywire ARGS` in its own process group; resolves with the first stdout line matching `re`. */
export async function start(
  t: TestContext,
  args: string[],
  re: RegExp,
  env: Record<string, string> = {},
): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SIGNAL_CLIENT: 'false', ...env },
  });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  t.after(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
  const lines = createInterface({ input: proc.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    lines.on('line', (l) => {
      if (re.test(l)) resolve(l);
    });
    proc.once('exit', (code) => reject(new Error(`skywire ${args[0]} exited (${code}): ${stderr.trim()}`)));
    // A component that fails without exiting must not hang the test.
    setTimeout(() => reject(new Error(`skywire ${args[0]} did not start within 20 s: ${stderr.trim()}`)), 20_000).unref();
  });
  return { proc, line };
}

/**
 * Resolves when the node manager's dashboard (its websocket pushes a snapshot whenever the network changes)
 * shows a transport between each pair in `edges`: from then on the manager can route across them.
 */
export function meshHas(dashboardUrl: string, edges: Array<[string, string]>): Promise<void> {
  const u = new URL(dashboardUrl);
  const ws = new WebSocket(`ws://${u.host}/?token=${u.searchParams.get('token')}`);
  return new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as {
        type: string;
        snapshot?: { nodes: Array<{ pk: string; transports: Array<{ peer: string }> }> };
      };
      if (m.type !== 'snapshot' || !m.snapshot) return;
      const peers = new Map(m.snapshot.nodes.map((n) => [n.pk, new Set(n.transports.map((x) => x.peer))]));
      if (edges.every(([a, b]) => peers.get(a)?.has(b))) {
        ws.close();
        resolve();
      }
    });
  });
}

