// `viscript --gui [HOST:PORT]`: the desktop over the engine the CLI already runs.
import { parseHostPort } from '../../util/hostport.js';
import { onShutdown } from '../../util/lifecycle.js';
import type { GuiServer } from '../../util/gui-server.js';
import type { Engine } from '../engine.js';
import { startDesktop } from './desktop.js';

export { startDesktop, MAX_TERMS, type DesktopOptions, type AppRow } from './desktop.js';

/**
 * Starts the desktop on `address` (default 127.0.0.1, any free port), prints the URL to open on stdout and
 * closes it on shutdown. The one call the CLI makes for --gui.
 */
export async function runDesktop(engine: Engine, address?: string, out: { write(s: string): unknown } = process.stdout): Promise<GuiServer> {
  const { host, port } = parseHostPort(address ?? '127.0.0.1:0', '127.0.0.1');
  let gui: GuiServer;
  try {
    gui = await startDesktop({ engine, host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot serve the desktop on ${address}: ${code === 'EADDRINUSE' ? 'the address is in use' : (err as Error).message}`, { cause: err });
  }
  onShutdown(() => gui.close());
  out.write(`Viscript desktop: open ${gui.url}\n`);
  return gui;
}
