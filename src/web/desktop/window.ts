// A terminal window: a desk window (desk-window.ts: title bar, move, resize, close) holding an xterm.js
// terminal with its own line editor; never resized below 16x4 cells.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { DeskWindow, type DeskWindowHooks, type Rect } from './desk-window';
import { LineEditor, type LineEditorHooks } from './line-editor';

export const MIN_COLS = 16;
export const MIN_ROWS = 4;

export interface WindowHooks extends LineEditorHooks, DeskWindowHooks {
  close(): void;
}

export class TermWindow extends DeskWindow {
  readonly term: Terminal;
  readonly editor: LineEditor;
  private readonly fit: FitAddon;
  attached: number | null = null;

  constructor(
    readonly id: string,
    title: string,
    parent: HTMLElement,
    pos: Rect,
    hooks: WindowHooks,
  ) {
    super(title, parent, { class: 'term', 'data-term': id }, hooks, pos);
    this.fit = new FitAddon();
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
  }

  setFocused(on: boolean): void {
    this.el.classList.toggle('focused', on);
    if (on) this.term.focus();
    else this.term.blur();
  }

  /** Smallest window (px) that still holds MIN_COLS x MIN_ROWS cells. */
  protected override minSize(): { w: number; h: number } {
    const screen = this.body.querySelector<HTMLElement>('.xterm-screen');
    const cw = screen && this.term.cols ? screen.clientWidth / this.term.cols : 8;
    const ch = screen && this.term.rows ? screen.clientHeight / this.term.rows : 16;
    const chromeW = this.el.offsetWidth - this.body.clientWidth + 16; // borders, padding, scrollbar
    const chromeH = this.el.offsetHeight - this.body.clientHeight + 4;
    return { w: Math.ceil(MIN_COLS * cw + chromeW), h: Math.ceil(MIN_ROWS * ch + chromeH) };
  }

  protected override resized(): void {
    this.refit();
  }

  refit(): void {
    if (!this.term) return; // placed by the base constructor before the terminal exists
    try {
      this.fit.fit();
    } catch {
      // not laid out yet
    }
    // The size in cells, for lt and for anyone inspecting the page.
    this.el.dataset.cols = String(this.term.cols);
    this.el.dataset.rows = String(this.term.rows);
  }

  override dispose(): void {
    this.term.dispose();
    super.dispose();
  }
}
