// The network dashboard server: looks at the network through `snapshot()` once a second and whenever
// `events` says something changed, and pushes what changed to every browser over the websocket.
import type { EventEmitter } from 'node:events';
import { startGuiServer, type GuiServer } from '../../util/gui-server.js';
import { createLogger } from '../../util/log.js';
import { NetworkTracker, type NetworkSnapshot, type TrackerOptions } from './model.js';

const log = createLogger('dashboard');

export interface DashboardOptions extends TrackerOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0
  token?: string;
  snapshot: () => NetworkSnapshot | Promise<NetworkSnapshot>;
  /** Any event named in `changeEvents` triggers a fresh look (default: nodeUp, nodeDown, transports). */
  events?: Pick<EventEmitter, 'on' | 'off'>;
  changeEvents?: string[];
  intervalMs?: number;
}

export async function startDashboard(o: DashboardOptions): Promise<GuiServer> {
  const tracker = new NetworkTracker({ forgetAfterMs: o.forgetAfterMs, maxGone: o.maxGone });
  let last: unknown = { type: 'snapshot', snapshot: { nodes: [], routes: [], services: [] }, history: [] };
  let lastText = '';

  const gui = await startGuiServer({
    host: o.host,
    port: o.port,
    token: o.token,
    page: 'dashboard/index.html',
    maxMessageBytes: 4 * 1024, // the page only listens
    onClient: (client) => {
      client.send(last);
      client.onMessage(() => client.send({ type: 'error', message: 'the dashboard is read-only' }));
    },
    route: (path, res) => {
      if (path !== '/api/snapshot') return false;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(last));
      return true;
    },
  });

  let running = false;
  let again = false;
  const look = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const snap = tracker.update(await o.snapshot());
      last = { type: 'snapshot', at: Date.now(), snapshot: snap, history: tracker.history };
      const text = JSON.stringify({ snap: { ...snap }, h: tracker.history.length });
      if (text !== lastText) {
        lastText = text;
        gui.broadcast(last);
      }
    } catch (err) {
      log.warn('network snapshot failed', { err });
    } finally {
      running = false;
      if (again) {
        again = false;
        void look();
      }
    }
  };
  const timer = setInterval(() => void look(), o.intervalMs ?? 1000);
  timer.unref();
  let soon: NodeJS.Timeout | undefined;
  const onChange = () => {
    // Changes come in bursts (a node going down breaks several routes): look once, shortly after.
    clearTimeout(soon);
    soon = setTimeout(() => void look(), 50);
  };
  const events = o.changeEvents ?? ['nodeUp', 'nodeDown', 'transports'];
  for (const e of events) o.events?.on(e, onChange);
  await look();

  return {
    host: gui.host,
    port: gui.port,
    token: gui.token,
    url: gui.url,
    broadcast: (m) => gui.broadcast(m),
    connections: () => gui.connections(),
    async close() {
      clearInterval(timer);
      clearTimeout(soon);
      for (const e of events) o.events?.off(e, onChange);
      await gui.close();
    },
  };
}
