// `viscript --gui [HOST:PORT]`: the desktop over the engine the CLI already runs.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHostPort } from '../../util/hostport.js';
import { onShutdown } from '../../util/lifecycle.js';
import type { GuiServer } from '../../util/gui-server.js';
import type { Engine } from '../engine.js';
import { startDesktop } from './desktop.js';

export { startDesktop, MAX_TERMS, type DesktopOptions, type AppRow } from './desktop.js';

export const GUI_TOKEN_FILE = 'gui.json';

/**
 * The desktop's token when it has a fixed port: kept in <state dir>/gui.json (mode 0600, beside control.json,
 * which grants more), so that a restarted Viscript accepts the cookie of a page still open and the page heals
 * by itself. A damaged file is replaced. With port 0 the address changes anyway: a fresh token each start.
 */
function stableToken(stateDir: string): string {
  const file = join(stateDir, GUI_TOKEN_FILE);
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    const token = typeof saved === 'object' && saved !== null ? (saved as { token?: unknown }).token : undefined;
    if (typeof token === 'string' && /^[A-Za-z0-9_-]{32}$/.test(token)) return token;
  } catch {
    // none yet, or not JSON: make one
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, JSON.stringify({ token }) + '\n', { mode: 0o600 });
  return token;
}

/**
 * Starts the desktop on `address` (default 127.0.0.1, any free port), prints the URL to open on stdout and
 * closes it on shutdown. The one call the CLI makes for --gui.
 */
export async function runDesktop(engine: Engine, address?: string, out: { write(s: string): unknown } = process.stdout): Promise<GuiServer> {
  const { host, port } = parseHostPort(address ?? '127.0.0.1:0', '127.0.0.1');
  let gui: GuiServer;
  try {
    gui = await startDesktop({ engine, host, port, token: port === 0 ? undefined : stableToken(engine.stateDir) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot serve the desktop on ${address}: ${code === 'EADDRINUSE' ? 'the address is in use' : (err as Error).message}`, { cause: err });
  }
  onShutdown(() => gui.close());
  out.write(`Viscript desktop: open ${gui.url}\n`);
  return gui;
}
