// Headless mode: commands on stdin, one per line; results on stdout as text or JSON lines (render.ts).
// End of stdin means "no more commands", not "stop": Viscript keeps supervising its apps until SIGINT,
// SIGTERM or `quit` (from stdin or `viscript -c quit`), unless exitOnEof asks it to stop then.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Engine } from './engine.js';
import { jsonSink, textSink, type Writer } from './render.js';
import { ShellSession, type SessionSink } from './session.js';

export interface HeadlessOptions {
  json: boolean;
  exitOnEof: boolean;
  input: Readable;
  output: Writer;
}

export function runHeadless(engine: Engine, o: HeadlessOptions): { sink: SessionSink; session: ShellSession } {
  const sink = o.json ? jsonSink(o.output) : textSink(o.output, { events: true });
  // Headless sessions can attach: lines after `attach <id>` go to the app until a line with Ctrl+Z (\x1a).
  const session = new ShellSession(engine, sink, { interactive: true });
  const rl = createInterface({ input: o.input, crlfDelay: Infinity, terminal: false });
  let last: Promise<unknown> = Promise.resolve();
  rl.on('line', (line) => {
    last = session.submit(line);
  });
  rl.on('close', () => {
    void last.then(() => {
      if (o.exitOnEof) engine.requestQuit();
      else sink.info?.('stdin closed: Viscript keeps running until SIGINT/SIGTERM or "viscript -c quit"');
    });
  });
  return { sink, session };
}
