// Turns session output into text or JSON lines on a writable (stdout, a control connection).
// JSON shape, one object per line:
//   {"type":"result","ok":true,"command":"start","text":"...","data":{...}}
//   {"type":"output","id":2,"stream":"stdout","text":"one line of the app's output","t":1700000000000}
//   {"type":"event","event":"exit","id":2,"name":"ticker","state":"exited","text":"..."}
//   {"type":"info","text":"..."}
import type { AppEvent, AppOutput, CommandResult, SessionSink } from './session.js';

export interface Writer {
  write(s: string): unknown;
}

export function jsonSink(out: Writer): SessionSink {
  const emit = (o: unknown) => out.write(JSON.stringify(o) + '\n');
  return {
    result: (r: CommandResult) => emit({ type: 'result', ...r }),
    output: (o: AppOutput) => {
      for (const l of o.lines) emit({ type: 'output', ...(o.machine ? { machine: o.machine } : {}), id: o.id, stream: l.stream, text: l.text, t: l.t });
    },
    event: (e: AppEvent) => emit({ type: 'event', event: e.event, ...(e.machine ? { machine: e.machine } : {}), id: e.app.id, name: e.app.name, state: e.app.state, text: e.text, app: e.app }),
    info: (text: string) => emit({ type: 'info', text }),
  };
}

export interface TextSinkOptions {
  /** Raw chunks of attached apps (a terminal shows prompts without newline) instead of whole lines. */
  rawOutput?: boolean;
  /** Print app events (registered, exited, restarting) as "[viscript] ..." lines. */
  events?: boolean;
  clearScreen?: () => void;
}

export function textSink(out: Writer, o: TextSinkOptions = {}): SessionSink {
  return {
    result: (r: CommandResult) => {
      if (r.clear) return o.clearScreen?.();
      if (!r.text) return;
      out.write((r.ok ? r.text : `error: ${r.text}`) + '\n');
    },
    output: (a: AppOutput) => {
      if (o.rawOutput) {
        if (a.chunk) out.write(a.chunk);
        return;
      }
      for (const l of a.lines) out.write(l.text + '\n');
    },
    event: o.events ? (e: AppEvent) => out.write(`[viscript] ${e.text}\n`) : undefined,
    info: (text: string) => out.write(`[viscript] ${text}\n`),
  };
}
