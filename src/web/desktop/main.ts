// The Viscript desktop: terminal windows (each a shell session on the server), a taskbar with a start
// menu, and panels (the running apps with live CPU and memory; any later panel is one more `addPanel`), all
// placed by the window manager (tiled until the user moves one). Window commands (nt, lt, foc, ct, defocus,
// mt, tile) are handled here, since windows live in the browser; every other line goes to the window's session.
import '@xterm/xterm/css/xterm.css';
import { connect } from '../common/ws';
import { $, h } from '../common/dom';
import { formatBytes } from '../../util/text-table';
import { renderMachines, type MachineRow } from './machines';
import { sparkline } from './sparkline';
import { DeskWindow } from './desk-window';
import { TermWindow } from './window';
import { WindowManager } from './window-manager';

interface AppRow { id: number; name: string; state: string; pid?: number; cpu?: number; rss?: number; restarts: number }
interface AppDef { name: string; desc: string; daemon: boolean }

const desk = $('#desk');
const windows = new Map<string, TermWindow>();
const panels = new Map<string, DeskWindow>();
const wm = new WindowManager(desk, () => renderTaskbar());
let focused: string | undefined;
let count = 0;
let appDefs: AppDef[] = [];
const samples = new Map<number, { cpu: number[]; rss: number[] }>();
const SAMPLES = 60;

const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');

function focus(id: string | undefined) {
  focused = id;
  for (const [wid, w] of windows) {
    w.setFocused(wid === id);
    if (wid === id) wm.raise(w);
  }
  renderTaskbar();
}

function newTerm(initial?: string): TermWindow {
  const id = newId();
  count++;
  const w = new TermWindow(id, `Terminal ${count}`, desk, wm.initialRect({ w: 640, h: 360 }), {
    line: (text) => runLine(w, text),
    detach: () => link.send({ type: 'detach', term: id }),
    clear: () => {
      w.term.clear();
      w.editor.reset();
    },
    focus: () => focused !== id && focus(id),
    moved: () => wm.float(),
    close: () => {
      const err = closeTerm(id);
      if (err) w.editor.print(`error: ${err}\n`);
    },
  });
  windows.set(id, w);
  wm.add(w, 'main');
  link.send({ type: 'open', term: id });
  w.editor.print(`Viscript terminal ${id} — type "help" for commands, Ctrl+Z detaches\n`);
  focus(id);
  if (initial) {
    w.editor.print(`${w.editor.prompt}${initial}\n`);
    link.send({ type: 'line', term: id, text: initial });
  }
  return w;
}

function closeTerm(id: string): string | undefined {
  if (!windows.has(id)) return `no terminal ${id}`;
  if (windows.size === 1) return 'cannot close the last terminal';
  const w = windows.get(id)!;
  w.dispose();
  windows.delete(id);
  wm.remove(w);
  link.send({ type: 'close', term: id });
  if (focused === id) focus([...windows.keys()].pop());
  else renderTaskbar();
  return undefined;
}

function byPrefix(prefix: string | undefined): TermWindow | string {
  if (!prefix) return 'missing terminal id (see "lt")';
  const hits = [...windows.values()].filter((w) => w.id.startsWith(prefix.toLowerCase()));
  if (!hits.length) return `no terminal with id ${prefix} (see "lt")`;
  if (hits.length > 1) return `"${prefix}" matches ${hits.length} terminals: type more of the id`;
  return hits[0];
}

/** Window commands run here; anything else goes to this window's shell session. */
function runLine(w: TermWindow, text: string) {
  const words = text.trim().split(/\s+/);
  const say = (s: string) => w.editor.print(s + '\n');
  if (w.attached === null) {
    switch (words[0]) {
      case 'new_term':
      case 'nt':
        newTerm();
        return;
      case 'list_terms':
      case 'lt':
        say([...windows.values()].map((t) => {
          const r = t.rect;
          return `${t.id === focused ? '*' : ' '} ${t.id}  ${t.title.padEnd(12)} at ${r.x},${r.y} size ${t.term.cols}x${t.term.rows}${t.attached !== null ? `  attached to ${t.attached}` : ''}`;
        }).join('\n'));
        return;
      case 'focus':
      case 'foc': {
        const t = byPrefix(words[1]);
        if (typeof t === 'string') say(`error: ${t}`);
        else focus(t.id);
        return;
      }
      case 'close_term':
      case 'ct': {
        const t = byPrefix(words[1]);
        const err = typeof t === 'string' ? t : closeTerm(t.id);
        if (err) say(`error: ${err}`);
        return;
      }
      case 'defocus':
        focus(undefined);
        return;
      case 'move_term':
      case 'mt': {
        const [x, y] = [Number(words[1]), Number(words[2])];
        if (!/^\d+$/.test(words[1] ?? '') || !/^\d+$/.test(words[2] ?? '')) say('error: usage: move_term X Y (pixels from the top left)');
        else {
          wm.float();
          w.place(x, y);
        }
        return;
      }
      case 'tile':
        wm.tile();
        return;
    }
  }
  link.send({ type: 'line', term: w.id, text });
}

/**
 * A panel: a window of the side column holding `content` (the apps list; another panel is one more call).
 * Closing it hides it; its taskbar button or the start menu shows it again.
 */
function addPanel(id: string, title: string, content: HTMLElement): DeskWindow {
  const p: DeskWindow = new DeskWindow(title, desk, { class: 'panel', 'data-panel': id }, {
    focus: () => wm.raise(p),
    close: () => wm.setHidden(p, true),
    moved: () => wm.float(),
  }, wm.initialRect({ w: 300, h: 400 }));
  p.body.append(content);
  panels.set(id, p);
  wm.add(p, 'side');
  return p;
}

function renderTaskbar() {
  const tile = $('#tile');
  tile.classList.toggle('active', wm.mode === 'tiled');
  tile.setAttribute('aria-pressed', String(wm.mode === 'tiled'));
  const terms = [...windows.values()].map((w) => {
    const b = h('button', { class: w.id === focused ? 'task active' : 'task', 'data-term': w.id }, w.title);
    b.onclick = () => focus(w.id);
    return b;
  });
  const side = [...panels].map(([id, p]) => {
    const b = h('button', { class: p.hidden ? 'task panel-task hidden' : 'task panel-task', 'data-panel': id }, p.title);
    b.onclick = () => (p.hidden ? wm.setHidden(p, false) : wm.raise(p));
    return b;
  });
  $('#tasks').replaceChildren(...terms, ...side);
}

function renderMenu() {
  const items: Array<[string, () => void]> = appDefs.map((a) => [`Start ${a.name}`, () => startApp(a.name)]);
  items.push(['New Terminal', () => void newTerm()]);
  for (const p of panels.values()) if (p.hidden) items.push([`Show ${p.title}`, () => wm.setHidden(p, false)]);
  items.push(['Tile windows', () => wm.tile()], ['Defocus', () => focus(undefined)]);
  $('#menu').replaceChildren(...items.map(([label, fn]) => {
    const b = h('button', { class: 'item' }, label);
    b.onclick = () => {
      $('#menu').hidden = true;
      fn();
    };
    return b;
  }));
}

/** Runs a command in the focused terminal (or a new one), so its answer shows where the user looks. */
function runInTerminal(text: string) {
  const w = (focused && windows.get(focused)) || newTerm();
  if (w.attached !== null) link.send({ type: 'detach', term: w.id });
  w.editor.print(`${w.editor.prompt}${text}\n`);
  link.send({ type: 'line', term: w.id, text });
}

function startApp(name: string) {
  runInTerminal(`start ${name}`);
}

/** A panel button: runs its action without the click also reaching the row. */
function action(label: string, testid: string, run: () => void): HTMLElement {
  const b = h('button', { class: 'action', 'data-testid': testid, title: label }, label);
  b.onclick = (e) => {
    e.stopPropagation();
    run();
  };
  return b;
}

// The CLI's byte formatter, so the desktop and `la`/`ru` say the same (MiB, not MB).
const mb = formatBytes;

function renderApps(rows: AppRow[]) {
  for (const r of rows) {
    const s = samples.get(r.id) ?? { cpu: [], rss: [] };
    if (r.cpu !== undefined) s.cpu.push(r.cpu);
    if (r.rss !== undefined) s.rss.push(r.rss / 1048576);
    if (s.cpu.length > SAMPLES) s.cpu.shift();
    if (s.rss.length > SAMPLES) s.rss.shift();
    samples.set(r.id, s);
  }
  const list = rows.slice().reverse().map((r) => {
    const s = samples.get(r.id)!;
    const live = r.cpu !== undefined;
    const row = h('li', { class: `app ${r.state}`, 'data-app-id': r.id, title: 'click for its logs' },
      h('div', { class: 'head' }, h('span', { class: 'id' }, String(r.id)), h('span', { class: 'name' }, r.name),
        h('span', { class: `state ${r.state}`, 'data-testid': 'state' }, r.state)),
      // The actions an operator needs without typing: each runs in the focused terminal, which shows its answer.
      h('div', { class: 'actions' },
        action('logs', 'logs', () => newTerm(`logs ${r.id} -n 200 -f`)),
        action('restart', 'restart', () => runInTerminal(`restart ${r.id}`)),
        action('stop', 'stop', () => runInTerminal(`sd ${r.id}`))),
      h('div', { class: 'metrics' },
        h('span', { class: 'metric' }, 'CPU ', h('b', {}, live ? `${r.cpu!.toFixed(1)}%` : '–')), sparkline(s.cpu, 90, 22, 5),
        h('span', { class: 'metric' }, 'MEM ', h('b', {}, live ? mb(r.rss!) : '–')), sparkline(s.rss, 90, 22, 1)));
    row.onclick = () => newTerm(`logs ${r.id} -n 200 -f`);
    return row;
  });
  $('#apps').replaceChildren(...(list.length ? list : [h('li', { class: 'empty' }, 'no apps started yet')]));
}

addPanel('apps', 'Apps', h('ul', { id: 'apps', 'data-testid': 'apps' }));

const link = connect((msg) => {
  const w = typeof msg.term === 'string' ? windows.get(msg.term) : undefined;
  switch (msg.type) {
    case 'init':
      appDefs = msg.apps as AppDef[];
      renderMenu();
      // After a reconnect the server has new sessions: reopen one per window, none attached.
      for (const [id, win] of windows) {
        link.send({ type: 'open', term: id });
        if (win.attached !== null) {
          win.attached = null;
          win.setTitle('');
          win.editor.setPrompt('viscript> ');
        }
      }
      if (!windows.size) newTerm();
      break;
    case 'result':
      if (!w) break;
      if (msg.clear) {
        w.term.clear();
        w.editor.reset();
      } else if (msg.text) w.editor.print((msg.ok ? String(msg.text) : `error: ${String(msg.text)}`) + '\n');
      break;
    case 'output':
      w?.editor.print(String(msg.text));
      break;
    case 'event':
    case 'info':
      w?.editor.print(`[viscript] ${String(msg.text)}\n`);
      break;
    case 'attach':
      if (!w) break;
      w.attached = typeof msg.id === 'number' ? msg.id : null;
      w.setTitle(w.attached !== null ? `attached to ${w.attached} (Ctrl+Z detaches)` : '');
      w.editor.setPrompt(w.attached !== null ? '' : 'viscript> ');
      break;
    case 'apps':
      renderApps(msg.apps as AppRow[]);
      break;
    case 'machines':
      renderMachines(msg.machines as MachineRow[], runInTerminal, (content) => {
        addPanel('machines', 'Machines', content);
        renderTaskbar();
      });
      break;
    case 'error':
      (w ?? (focused ? windows.get(focused) : undefined))?.editor.print(`error: ${String(msg.message)}\n`);
      break;
  }
}, (open) => {
  $('#conn').textContent = open ? '' : 'reconnecting…';
});

$('#start').addEventListener('click', (ev) => {
  ev.stopPropagation();
  renderMenu();
  $('#menu').hidden = !$('#menu').hidden;
});
$('#tile').addEventListener('click', () => wm.tile());
document.addEventListener('click', () => ($('#menu').hidden = true));
window.addEventListener('resize', () => {
  wm.relayout();
  windows.forEach((w) => w.refit());
});
