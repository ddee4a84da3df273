// One terminal window: a title bar to move it, edges and corners to resize it (never below 16x4 cells),
// a close button, and an xterm.js terminal with its own line editor.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { h } from '../common/dom';
import { LineEditor, type LineEditorHooks } from './line-editor';

export const MIN_COLS = 16;
export const MIN_ROWS = 4;
const EDGES = ['n', 's', 'e', 'w', 'ne', 'nw', 'se', 'sw'] as const;

export interface WindowHooks extends LineEditorHooks {
  focus(): void;
  close(): void;
}

export class TermWindow {
  readonly el: HTMLDivElement;
  readonly term: Terminal;
  readonly editor: LineEditor;
  private readonly fit = new FitAddon();
  private readonly titleText: HTMLSpanElement;
  private readonly body: HTMLDivElement;
  attached: number | null = null;

  constructor(
    readonly id: string,
    readonly title: string,
    parent: HTMLElement,
    pos: { x: number; y: number; w: number; h: number },
    private readonly hooks: WindowHooks,
  ) {
    this.titleText = h('span', { class: 'title' }, title);
    const close = h('button', { class: 'close', title: 'close', 'aria-label': 'close' }, '×');
    const bar = h('div', { class: 'titlebar' }, this.titleText, close);
    this.body = h('div', { class: 'body' });
    this.el = h('div', { class: 'window', 'data-term': id }, bar, this.body, ...EDGES.map((e) => h('div', { class: `rz ${e}`, 'data-edge': e })));
    parent.append(this.el);
    this.place(pos.x, pos.y, pos.w, pos.h);

    this.term = new Terminal({
      scrollback: 5000,
      fontSize: 13,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
      cursorBlink: true,
      convertEol: false,
      theme: { background: '#0b1118', foreground: '#d6e2ee', cursor: '#3fa7ff' },
    });
    this.term.loadAddon(this.fit);
    this.term.open(this.body);
    this.editor = new LineEditor(this.term, hooks);
    this.term.onData((d) => this.editor.handle(d));
    this.refit();

    close.addEventListener('click', (ev) => {
      ev.stopPropagation();
      hooks.close();
    });
    this.el.addEventListener('pointerdown', () => hooks.focus(), true);
    this.dragMove(bar);
    for (const rz of this.el.querySelectorAll<HTMLElement>('.rz')) this.dragResize(rz, rz.dataset.edge ?? 'se');
  }

  get rect(): { x: number; y: number; w: number; h: number } {
    return { x: this.el.offsetLeft, y: this.el.offsetTop, w: this.el.offsetWidth, h: this.el.offsetHeight };
  }

  place(x: number, y: number, w?: number, hgt?: number): void {
    const s = this.el.style;
    s.left = `${Math.round(x)}px`;
    s.top = `${Math.round(y)}px`;
    if (w !== undefined) s.width = `${Math.round(w)}px`;
    if (hgt !== undefined) s.height = `${Math.round(hgt)}px`;
  }

  setTitle(extra: string): void {
    this.titleText.textContent = extra ? `${this.title} — ${extra}` : this.title;
  }

  setFocused(on: boolean): void {
    this.el.classList.toggle('focused', on);
    if (on) this.term.focus();
    else this.term.blur();
  }

  /** Smallest window (px) that still holds MIN_COLS x MIN_ROWS cells. */
  private minSize(): { w: number; h: number } {
    const screen = this.body.querySelector<HTMLElement>('.xterm-screen');
    const cw = screen && this.term.cols ? screen.clientWidth / this.term.cols : 8;
    const ch = screen && this.term.rows ? screen.clientHeight / this.term.rows : 16;
    const chromeW = this.el.offsetWidth - this.body.clientWidth + 16; // borders, padding, scrollbar
    const chromeH = this.el.offsetHeight - this.body.clientHeight + 4;
    return { w: Math.ceil(MIN_COLS * cw + chromeW), h: Math.ceil(MIN_ROWS * ch + chromeH) };
  }

  refit(): void {
    try {
      this.fit.fit();
    } catch {
      // not laid out yet
    }
    // The size in cells, for lt and for anyone inspecting the page.
    this.el.dataset.cols = String(this.term.cols);
    this.el.dataset.rows = String(this.term.rows);
  }

  private dragMove(handle: HTMLElement): void {
    handle.addEventListener('pointerdown', (ev) => {
      if ((ev.target as HTMLElement).closest('button')) return;
      ev.preventDefault();
      handle.setPointerCapture(ev.pointerId);
      const r0 = this.rect;
      const sx = ev.clientX;
      const sy = ev.clientY;
      const move = (e: PointerEvent) => this.place(Math.max(0, r0.x + e.clientX - sx), Math.max(0, r0.y + e.clientY - sy));
      const up = () => {
        handle.removeEventListener('pointermove', move);
        handle.removeEventListener('pointerup', up);
      };
      handle.addEventListener('pointermove', move);
      handle.addEventListener('pointerup', up);
    });
  }

  private dragResize(handle: HTMLElement, edge: string): void {
    handle.addEventListener('pointerdown', (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      this.hooks.focus();
      handle.setPointerCapture(ev.pointerId);
      const r0 = this.rect;
      const min = this.minSize();
      const sx = ev.clientX;
      const sy = ev.clientY;
      const move = (e: PointerEvent) => {
        const dx = e.clientX - sx;
        const dy = e.clientY - sy;
        let { x, y, w, h: hh } = r0;
        if (edge.includes('e')) w = Math.max(min.w, r0.w + dx);
        if (edge.includes('s')) hh = Math.max(min.h, r0.h + dy);
        if (edge.includes('w')) {
          w = Math.max(min.w, r0.w - dx);
          x = r0.x + r0.w - w;
        }
        if (edge.includes('n')) {
          hh = Math.max(min.h, r0.h - dy);
          y = Math.max(0, r0.y + r0.h - hh);
        }
        this.place(x, y, w, hh);
        this.refit();
      };
      const up = () => {
        handle.removeEventListener('pointermove', move);
        handle.removeEventListener('pointerup', up);
        this.refit();
      };
      handle.addEventListener('pointermove', move);
      handle.addEventListener('pointerup', up);
    });
  }

  dispose(): void {
    this.term.dispose();
    this.el.remove();
  }
}
