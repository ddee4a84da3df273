// The Viscript desktop: the same engine as the headless shell, served to a browser where each terminal
// window is its own ShellSession. Windows (position, size, focus) live in the browser; the server owns the
// sessions, runs their lines, streams app output to the terminal attached to or following it, and pushes
// the apps panel (state, CPU, memory) once a second.
import { z } from 'zod';
import { startGuiServer, type GuiClient, type GuiServer } from '../../util/gui-server.js';
import { createLogger } from '../../util/log.js';
import type { Engine } from '../engine.js';
import { DETACH_CHAR, ShellSession } from '../session.js';
import type { AppInfo } from '../supervisor.js';

const log = createLogger('viscript.gui');

const TERM_ID = z.string().regex(/^[0-9a-f]{8}$/);
const Request = z.discriminatedUnion('type', [
  z.object({ type: z.literal('open'), term: TERM_ID }),
  z.object({ type: z.literal('line'), term: TERM_ID, text: z.string().max(8192) }),
  z.object({ type: z.literal('detach'), term: TERM_ID }),
  z.object({ type: z.literal('close'), term: TERM_ID }),
]);

/** Most terminals one browser may open (each is a session on the engine). */
export const MAX_TERMS = 32;
const LIVE: AppInfo['state'][] = ['starting', 'running', 'registered', 'stopping'];

export interface DesktopOptions {
  engine: Engine;
  host?: string; // default 127.0.0.1
  port?: number; // default 0
  token?: string;
  /** How often the apps panel is refreshed (ms). */
  panelIntervalMs?: number;
}

export interface AppRow {
  id: number;
  name: string;
  state: string;
  pid?: number;
  cpu?: number;
  rss?: number;
  restarts: number;
}

export async function startDesktop(o: DesktopOptions): Promise<GuiServer> {
  const { engine } = o;
  const apps = [...engine.config.apps.values()].map((a) => ({ name: a.name, desc: a.desc, daemon: a.daemon }));

  let lastRows: AppRow[] = [];
  const started: { gui?: GuiServer } = {}; // set once listening; the panel has no one to show before
  // The apps panel: state from the supervisor, CPU and memory of each live app's process tree.
  let polling = false;
  const poll = async () => {
    const g = started.gui;
    if (polling || !g || g.connections() === 0) return; // sampling CPU spawns ps: only for someone watching
    polling = true;
    try {
      const rows: AppRow[] = [];
      for (const a of engine.supervisor.list()) {
        const row: AppRow = { id: a.id, name: a.name, state: a.state, pid: a.pid, restarts: a.restarts };
        if (LIVE.includes(a.state)) {
          try {
            const u = await engine.supervisor.usage(a.id);
            row.cpu = Math.round(u.cpu * 10) / 10;
            row.rss = u.rss;
          } catch {
            // it just exited: shown with its state only
          }
        }
        rows.push(row);
      }
      lastRows = rows;
      g.broadcast({ type: 'apps', apps: rows });
      // A cluster hub also shows its machines (cluster/hub.ts keeps them; nothing to sample here).
      if (engine.cluster) g.broadcast({ type: 'machines', machines: engine.cluster.machines() });
    } catch (err) {
      log.debug('apps panel poll failed', { err });
    } finally {
      polling = false;
    }
  };
  const onClient = (client: GuiClient) => {
    const sessions = new Map<string, ShellSession>();
    client.send({ type: 'init', apps });
    client.send({ type: 'apps', apps: lastRows });
    setImmediate(() => void poll());
    client.onMessage((raw) => {
      const parsed = Request.safeParse(raw);
      if (!parsed.success) return client.send({ type: 'error', message: 'malformed request' });
      const req = parsed.data;
      const term = req.term;
      if (req.type === 'open') {
        if (sessions.has(term)) return;
        if (sessions.size >= MAX_TERMS) return client.send({ type: 'error', term, message: `at most ${MAX_TERMS} terminals` });
        const session = new ShellSession(engine, {
          result: (r) => client.send({ type: 'result', term, ok: r.ok, command: r.command, text: r.text, clear: r.clear ?? false }),
          output: (a) => client.send({ type: 'output', term, id: a.id, text: a.chunk }),
          event: (e) => client.send({ type: 'event', term, text: e.text }),
          info: (text) => client.send({ type: 'info', term, text }),
          attachChanged: (id) => client.send({ type: 'attach', term, id: id ?? null }),
        });
        sessions.set(term, session);
        return;
      }
      const session = sessions.get(term);
      if (!session) return client.send({ type: 'error', term, message: `no terminal ${term}` });
      if (req.type === 'line') void session.submit(req.text);
      else if (req.type === 'detach') void session.submit(DETACH_CHAR);
      else {
        session.close();
        sessions.delete(term);
      }
    });
    client.onClose(() => {
      for (const s of sessions.values()) s.close();
      sessions.clear();
    });
  };

  const server = await startGuiServer({ host: o.host, port: o.port, token: o.token, page: 'desktop/index.html', maxMessageBytes: 64 * 1024, onClient });
  started.gui = server;

  const timer = setInterval(() => void poll(), o.panelIntervalMs ?? 1000);
  timer.unref();
  // State changes show at once, not at the next tick.
  const onState = () => void poll();
  engine.on('state', onState);
  engine.on('exit', onState);
  void poll();

  return {
    host: server.host,
    port: server.port,
    token: server.token,
    url: server.url,
    broadcast: (msg) => server.broadcast(msg),
    connections: () => server.connections(),
    async close() {
      clearInterval(timer);
      engine.off('state', onState);
      engine.off('exit', onState);
      await server.close();
    },
  };
}
