// The Machines panel of a cluster hub's desktop: one row per machine of cluster.machines, online or offline
// (since when, and why), with OS, load, memory and apps running/configured, refreshed with the apps panel.
// It is a panel window of the desktop, added on the first `machines` message: a Viscript that is not a hub never
// sends one, so the panel never appears there.
import { h } from '../common/dom';
import { formatBytes } from '../../util/text-table';

export interface MachineRow {
  name: string;
  pk: string;
  state: 'online' | 'offline';
  since?: number;
  lastSeen?: number;
  problem?: string;
  status?: { os: string; arch: string; cores: number; load: number[]; memUsed: number; memTotal: number; appsRunning: number; appsConfigured: number; version: string };
}

let list: HTMLElement | undefined;

/** The panel's content, made once; `mount` puts it in a panel window the first time. */
function section(mount: (content: HTMLElement) => void): HTMLElement {
  if (list) return list;
  list = h('ul', { id: 'machines', 'data-testid': 'machines' });
  mount(list);
  return list;
}

const time = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** `run` types a command into the focused terminal (as the apps panel's buttons do). */
export function renderMachines(rows: MachineRow[], run: (line: string) => void, mount: (content: HTMLElement) => void): void {
  const ul = section(mount);
  ul.replaceChildren(
    ...rows.map((m) => {
      const s = m.status;
      const state = m.state === 'online' ? 'online' : m.since !== undefined ? `offline since ${time(m.since)}` : 'offline';
      const li = h(
        'li',
        { class: `machine ${m.state}`, 'data-machine': m.name, title: m.problem ?? m.pk },
        h('div', { class: 'head' }, h('span', { class: 'name' }, m.name), h('span', { class: `state ${m.state === 'online' ? 'running' : 'failed'}`, 'data-testid': 'machine-state' }, state)),
        s
          ? h('div', { class: 'facts' },
              `${s.os.split(' ')[0]}/${s.arch} · ${s.cores} cores · load ${s.load[0].toFixed(2)} · ${formatBytes(s.memUsed)}/${formatBytes(s.memTotal)} · `,
              h('span', { 'data-testid': 'machine-apps' }, `apps ${s.appsRunning}/${s.appsConfigured}`))
          : h('div', { class: 'facts' }, m.problem ?? 'not seen yet'),
      );
      li.onclick = () => run(`la @${m.name}`);
      return li;
    }),
  );
}
