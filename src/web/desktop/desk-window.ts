// A window of the desktop, whatever it holds (a terminal, the apps panel, any later panel): a title bar to move
// it, edges and corners to resize it, an optional close button, and a body for its content. Where windows go
// (tiled or where the user put them) is the window manager's business (window-manager.ts); a window only
// reports that the user moved or resized it, and keeps its title bar reachable inside the desk.
import { h } from '../common/dom';

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface DeskWindowHooks {
  /** Pointer down anywhere in the window. */
  focus(): void;
  /** The close button (absent when the window has no close button). */
  close?(): void;
  /** The user started moving or resizing it by hand. */
  moved(): void;
}

const EDGES = ['n', 's', 'e', 'w', 'ne', 'nw', 'se', 'sw'] as const;
/** Part of a window that always stays inside the desk when it is dragged, so it can be grabbed again. */
const KEEP_VISIBLE = 80;

export class DeskWindow {
  readonly el: HTMLDivElement;
  readonly body: HTMLDivElement;
  private readonly titleText: HTMLSpanElement;
  private readonly bar: HTMLDivElement;

  constructor(
    readonly title: string,
    parent: HTMLElement,
    attrs: Record<string, string>,
    protected readonly deskHooks: DeskWindowHooks,
    pos: Rect,
  ) {
    this.titleText = h('span', { class: 'title' }, title);
    const close = deskHooks.close ? h('button', { class: 'close', title: 'close', 'aria-label': 'close' }, '×') : undefined;
    const bar = (this.bar = h('div', { class: 'titlebar' }, this.titleText, close));
    this.body = h('div', { class: 'body' });
    this.el = h('div', { ...attrs, class: `window ${attrs.class ?? ''}`.trim() }, bar, this.body,
      ...EDGES.map((e) => h('div', { class: `rz ${e}`, 'data-edge': e })));
    parent.append(this.el);
    this.place(pos.x, pos.y, pos.w, pos.h);
    close?.addEventListener('click', (ev) => {
      ev.stopPropagation();
      deskHooks.close?.();
    });
    this.el.addEventListener('pointerdown', () => deskHooks.focus(), true);
    this.dragMove(bar);
    for (const rz of this.el.querySelectorAll<HTMLElement>('.rz')) this.dragResize(rz, rz.dataset.edge ?? 'se');
  }

  get rect(): Rect {
    return { x: this.el.offsetLeft, y: this.el.offsetTop, w: this.el.offsetWidth, h: this.el.offsetHeight };
  }

  get hidden(): boolean {
    return this.el.hidden === true;
  }

  set hidden(on: boolean) {
    this.el.hidden = on;
  }

  place(x: number, y: number, w?: number, hgt?: number): void {
    const s = this.el.style;
    s.left = `${Math.round(x)}px`;
    s.top = `${Math.round(y)}px`;
    if (w !== undefined) s.width = `${Math.round(w)}px`;
    if (hgt !== undefined) s.height = `${Math.round(hgt)}px`;
    if (w !== undefined || hgt !== undefined) this.resized();
  }

  /** Moves the window back so that its title bar can be grabbed (after a drag, or when the desk shrank). */
  keepReachable(): void {
    const desk = this.el.parentElement;
    if (!desk) return;
    const r = this.rect;
    const x = Math.min(Math.max(r.x, KEEP_VISIBLE - r.w), desk.clientWidth - KEEP_VISIBLE);
    const barBottom = this.bar.offsetTop + this.bar.offsetHeight + 1; // with the window's top border
    const y = Math.min(Math.max(r.y, 0), Math.max(0, desk.clientHeight - barBottom));
    if (x !== r.x || y !== r.y) this.place(x, y);
  }

  setTitle(extra: string): void {
    this.titleText.textContent = extra ? `${this.title} — ${extra}` : this.title;
  }

  /** Smallest size (px) the user may resize it to. */
  protected minSize(): { w: number; h: number } {
    return { w: 200, h: 120 };
  }

  /** Called after every change of size. */
  protected resized(): void {}

  private dragMove(handle: HTMLElement): void {
    handle.addEventListener('pointerdown', (ev) => {
      if ((ev.target as HTMLElement).closest('button')) return;
      ev.preventDefault();
      handle.setPointerCapture(ev.pointerId);
      this.deskHooks.moved();
      const r0 = this.rect;
      const sx = ev.clientX;
      const sy = ev.clientY;
      const move = (e: PointerEvent) => {
        this.place(r0.x + e.clientX - sx, r0.y + e.clientY - sy);
        this.keepReachable();
      };
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
      this.deskHooks.focus();
      this.deskHooks.moved();
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
        this.keepReachable();
      };
      const up = () => {
        handle.removeEventListener('pointermove', move);
        handle.removeEventListener('pointerup', up);
        this.resized();
      };
      handle.addEventListener('pointermove', move);
      handle.addEventListener('pointerup', up);
    });
  }

  dispose(): void {
    this.el.remove();
  }
}
