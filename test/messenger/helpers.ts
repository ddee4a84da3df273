// Shared by the messenger tests: a real messenger process started through the compiled CLI, and clients.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EventEmitter, once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { generateKeyPair, type KeyPair } from '../../src/net/keys.js';
import { FrameDecoder } from '../../src/net/framing.js';
import type { SecureChannel } from '../../src/net/secure.js';
import { dialSecure } from '../../src/net/tcp.js';
import { CODES, MAX_BODY, T } from '../../src/messenger/protocol.js';
import { MessengerClient, type MessengerClientOptions } from '../../src/messenger/client.js';
import { parseMessengerAddress, type MessengerAddress } from '../../src/messenger/address.js';

export const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
export const PEER = fileURLToPath(new URL('./fixtures/peer.js', import.meta.url));

export function tempDir(t: TestContext): string {
  const d = mkdtempSync(join(tmpdir(), 'messenger-test-'));
  const remove = () => rmSync(d, { recursive: true, force: true });
  t.after(remove);
  process.once('exit', remove); // also when the test never gets to its t.after (see track below)
  return d;
}

export interface RunningMessenger {
  proc: ChildProcess;
  address: MessengerAddress;
  text: string;
  stderr: () => string;
  /** Resolves at the first JSON log line (LOG_LEVEL must let it through) that satisfies `pred`. */
  waitForLog(pred: (rec: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** SIGTERM, resolves with the exit code once the process is gone. */
  stop(): Promise<number | null>;
}

function killGroup(p: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (p.pid) process.kill(-p.pid, sig);
  } catch {
    /* already gone */
  }
}

// Every process these helpers start is detached (its own process group), so nothing kills it when this test
// process goes. t.after kills it when its test ends, pass or fail; but t.after does not run when this process
// ends some other way: the runner kills a file that overran --test-timeout (SIGTERM), Ctrl-C, process.exit.
// Those are what left messengers running, so the groups still alive are also killed on the way out.
const live = new Set<ChildProcess>();
let exitHooked = false;

function killLive(): void {
  for (const p of live) killGroup(p, 'SIGKILL');
  live.clear();
}

/** Kills `p`'s group after the test, and when this process exits or is told to, whichever comes first. */
function track(t: TestContext, p: ChildProcess): void {
  live.add(p);
  p.once('exit', () => live.delete(p));
  t.after(() => {
    killGroup(p, 'SIGKILL');
    live.delete(p);
  });
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', killLive);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killLive();
      // Nobody else handles it: die of it as we would have without this listener.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

export function exited(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((resolve) => p.once('exit', (code) => resolve(code)));
}

/** Starts `skywire messenger` and waits for the address it prints. Killed after the test in any case. */
export async function startMessenger(t: TestContext, o: { key: string; listen?: string; args?: string[]; env?: Record<string, string> }): Promise<RunningMessenger> {
  const proc = spawn(
    process.execPath,
    [CLI, 'messenger', '--listen', o.listen ?? '127.0.0.1:0', '--key', o.key, ...(o.args ?? [])],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SIGNAL_CLIENT: 'false', ...o.env } },
  );
  track(t, proc);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const logLines = createInterface({ input: proc.stderr! });
  const waitForLog = (pred: (rec: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const f = (l: string) => {
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(l) as Record<string, unknown>;
        } catch {
          return;
        }
        if (pred(rec)) {
          logLines.off('line', f);
          resolve(rec);
        }
      };
      logLines.on('line', f);
    });
  const lines = createInterface({ input: proc.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    lines.on('line', (l) => {
      if (l.startsWith('messenger listening on ')) resolve(l);
    });
    proc.once('exit', (code) => reject(new Error(`messenger exited with ${code}: ${err}`)));
  });
  const text = line.slice('messenger listening on '.length);
  return {
    proc,
    text,
    address: parseMessengerAddress(text),
    stderr: () => err,
    waitForLog,
    stop: async () => {
      killGroup(proc, 'SIGTERM');
      return exited(proc);
    },
  };
}

/** A started client with a fresh key, closed after the test. */
export async function client(
  t: TestContext,
  messengers: MessengerAddress[],
  o: Partial<MessengerClientOptions> = {},
): Promise<MessengerClient & { key: KeyPair; pkHex: string }> {
  const key = o.localKey ?? generateKeyPair();
  const c = new MessengerClient({ localKey: key, messengers, reconnect: { initialMs: 50, maxMs: 500 }, ...o });
  t.after(() => c.close());
  await c.start();
  return Object.assign(c, { key, pkHex: key.publicKey.toString('hex') });
}

/** Resolves with the args of the next `event` on `em` that satisfies `pred`. */
export function nextEvent<A extends unknown[]>(
  em: NodeJS.EventEmitter,
  event: string,
  pred: (...a: A) => boolean = () => true,
): Promise<A> {
  return new Promise((resolve) => {
    const f = (...a: unknown[]) => {
      if (pred(...(a as A))) {
        em.off(event, f);
        resolve(a as A);
      }
    };
    em.on(event, f);
  });
}

/** Spawns a client process (fixtures/peer.js) in its own process group; killed after the test. */
export async function startPeer(t: TestContext, messenger: string, args: string[]): Promise<{ proc: ChildProcess; pk: string }> {
  const proc = spawn(process.execPath, [PEER, messenger, ...args], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  track(t, proc);
  const lines = createInterface({ input: proc.stdout! });
  const pk = await new Promise<string>((resolve, reject) => {
    lines.on('line', (l) => {
      const m = /^ready (\w+)$/.exec(l);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`peer exited with ${code}`)));
  });
  return { proc, pk };
}

export { killGroup };

/** A raw secure connection to a messenger: frames as they arrive, the GOAWAY code it sent before closing. */
export async function raw(t: { after: (f: () => void) => void }, m: MessengerAddress, key: KeyPair = generateKeyPair()) {
  const ch: SecureChannel = await dialSecure(m.host, m.port, m.pk, { localKey: key });
  t.after(() => ch.destroy());
  const dec = new FrameDecoder({ lengthBytes: 2, headerBytes: 1, maxLength: MAX_BODY });
  const frames: Buffer[] = [];
  const ev = new EventEmitter();
  ch.on('data', (d: Buffer) => {
    for (const f of dec.push(d)) {
      frames.push(f);
      ev.emit('frame', f);
    }
  });
  ch.on('error', () => {});
  ch.on('end', () => ch.end());
  const closed = once(ch, 'close');
  const next = (type: number) => nextEvent<[Buffer]>(ev, 'frame', (f) => f[0] === type).then(([f]) => f);
  /** The GOAWAY code the messenger sent before closing (undefined if it just closed). */
  const goaway = async () => {
    await closed;
    const g = frames.find((f) => f[0] === T.GOAWAY);
    return g ? CODES[g[3]] : undefined;
  };
  return { ch, next, goaway, closed, events: ev, key };
}
