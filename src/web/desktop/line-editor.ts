// The prompt of one terminal window: line editing (cursor keys, Home/End, Backspace/Delete), history with
// Up/Down, Ctrl+C to drop the line, Ctrl+Z to detach, Ctrl+L to clear. Output arriving while the user types
// is written above the prompt, which is then redrawn with what was typed so far.
import type { Terminal } from '@xterm/xterm';

export interface LineEditorHooks {
  line(text: string): void;
  detach(): void;
  clear(): void;
}

const HISTORY_MAX = 500;

export class LineEditor {
  private buf = '';
  private cur = 0;
  private readonly history: string[] = [];
  private hIdx = 0;
  private draft = '';
  /** Text already on the current screen line before the prompt (an app's prompt without newline). */
  private lineStart = '';
  prompt = 'viscript> ';

  constructor(
    private readonly term: Terminal,
    private readonly hooks: LineEditorHooks,
  ) {}

  /** Writes text above the prompt line, keeping what is being typed. */
  print(text: string): void {
    const all = this.lineStart + text;
    const nl = all.lastIndexOf('\n');
    this.lineStart = nl < 0 ? all : all.slice(nl + 1);
    this.term.write('\r\x1b[2K' + all.replace(/\r?\n/g, '\r\n'));
    this.redraw(false);
  }

  setPrompt(p: string): void {
    this.prompt = p;
    this.redraw();
  }

  reset(): void {
    this.lineStart = '';
    this.buf = '';
    this.cur = 0;
    this.redraw();
  }

  /** Redraws the prompt line; `erase` first clears what is on it. */
  redraw(erase = true): void {
    let s = erase ? '\r\x1b[2K' + this.lineStart : '';
    s += this.prompt + this.buf;
    const back = this.buf.length - this.cur;
    if (back > 0) s += `\x1b[${back}D`;
    this.term.write(s);
  }

  handle(data: string): void {
    let i = 0;
    while (i < data.length) {
      // eslint-disable-next-line no-control-regex -- terminal escape sequences are control characters
      const esc = /^\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(data.slice(i));
      if (esc) {
        this.key(esc[0]);
        i += esc[0].length;
      } else {
        this.key(data[i]);
        i++;
      }
    }
  }

  private key(k: string): void {
    switch (k) {
      case '\r':
      case '\n': {
        const line = this.buf;
        this.term.write('\r\n');
        this.lineStart = '';
        this.buf = '';
        this.cur = 0;
        if (line.trim() && this.history[this.history.length - 1] !== line) {
          this.history.push(line);
          if (this.history.length > HISTORY_MAX) this.history.shift();
        }
        this.hIdx = this.history.length;
        this.hooks.line(line);
        this.redraw();
        return;
      }
      case '\x7f':
      case '\b':
        if (this.cur > 0) {
          this.buf = this.buf.slice(0, this.cur - 1) + this.buf.slice(this.cur);
          this.cur--;
        }
        break;
      case '\x1b[3~':
        this.buf = this.buf.slice(0, this.cur) + this.buf.slice(this.cur + 1);
        break;
      case '\x1b[D':
      case '\x1bOD':
        this.cur = Math.max(0, this.cur - 1);
        break;
      case '\x1b[C':
      case '\x1bOC':
        this.cur = Math.min(this.buf.length, this.cur + 1);
        break;
      case '\x1b[H':
      case '\x1bOH':
      case '\x01':
        this.cur = 0;
        break;
      case '\x1b[F':
      case '\x1bOF':
      case '\x05':
        this.cur = this.buf.length;
        break;
      case '\x1b[A':
      case '\x1bOA':
        if (this.hIdx > 0) {
          if (this.hIdx === this.history.length) this.draft = this.buf;
          this.buf = this.history[--this.hIdx];
          this.cur = this.buf.length;
        }
        break;
      case '\x1b[B':
      case '\x1bOB':
        if (this.hIdx < this.history.length) {
          this.hIdx++;
          this.buf = this.hIdx === this.history.length ? this.draft : this.history[this.hIdx];
          this.cur = this.buf.length;
        }
        break;
      case '\x03': // Ctrl+C: drop the line
        this.term.write('^C\r\n');
        this.lineStart = '';
        this.buf = '';
        this.cur = 0;
        break;
      case '\x1a': // Ctrl+Z
        this.hooks.detach();
        return;
      case '\x0c': // Ctrl+L
        this.hooks.clear();
        return;
      default:
        if (k.length === 1 && k >= ' ' && k !== '\x7f') {
          this.buf = this.buf.slice(0, this.cur) + k + this.buf.slice(this.cur);
          this.cur++;
        } else if (k.length === 1 && k.charCodeAt(0) > 0x7f) {
          this.buf = this.buf.slice(0, this.cur) + k + this.buf.slice(this.cur);
          this.cur++;
        } else return; // other control keys and sequences: ignored
    }
    this.redraw();
  }
}
