// The interactive prompt: node's readline with history (kept in the state dir) and tab completion of
// commands, app names and ids. While attached, typed lines go to the app and Ctrl+Z (readline's SIGTSTP,
// so the terminal does not suspend Viscript) detaches.
import { appendFileSync, readFileSync } from 'node:fs';
import { clearLine, createInterface, cursorTo } from 'node:readline';
import type { Engine } from './engine.js';
import { stampedLine } from './format.js';
import { textSink } from './render.js';
import { ShellSession } from './session.js';

const PROMPT = 'viscript> ';
const HISTORY_MAX = 1000;

export interface PromptOptions {
  historyFile?: string;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
}

export function runPrompt(engine: Engine, o: PromptOptions = {}): ShellSession {
  const input = o.input ?? process.stdin;
  const output = o.output ?? process.stdout;
  let history: string[] = [];
  if (o.historyFile) {
    try {
      history = readFileSync(o.historyFile, 'utf8').split('\n').filter(Boolean).slice(-HISTORY_MAX).reverse();
    } catch {
      // no history yet
    }
  }
  // Text printed while the user types goes above the prompt line, which is then drawn again.
  const above = (text: string) => {
    clearLine(output, 0);
    cursorTo(output, 0);
    output.write(text);
    if (session.attachedId === undefined && busy === 0 && !quitting) rl.prompt(true);
  };
  const base = textSink({ write: above }, { rawOutput: true, events: true, clearScreen: () => output.write('\x1b[2J\x1b[H') });
  const session: ShellSession = new ShellSession(
    engine,
    {
      ...base,
      // An attached app's output is shown as it comes, partial lines (its own prompts) included; followed
      // output (`logs -f`) goes above the prompt line by line.
      output: (a) => {
        if (a.id === session.attachedId) output.write(a.chunk);
        else for (const l of a.lines) above(stampedLine(l) + '\n');
      },
      attachChanged: (id) => rl.setPrompt(id === undefined ? PROMPT : ''),
    },
    { interactive: true, columns: (output as { columns?: number }).columns },
  );
  const rl = createInterface({
    input,
    output,
    prompt: PROMPT,
    completer: (line: string) => session.complete(line),
    history,
    historySize: HISTORY_MAX,
    removeHistoryDuplicates: true,
    terminal: true,
  });
  let ctrlC = 0;
  let busy = 0; // commands queued or running: their prompt comes when they finish
  let quitting = false;
  rl.on('line', (line) => {
    ctrlC = 0;
    if (o.historyFile && line.trim() && session.attachedId === undefined) {
      try {
        appendFileSync(o.historyFile, line.replace(/\n/g, ' ') + '\n', { mode: 0o600 });
      } catch {
        // history is a convenience
      }
    }
    busy++;
    void session.submit(line).then((r) => {
      busy--;
      if (r?.command === 'quit' && r.ok) quitting = true;
      if (session.attachedId === undefined && busy === 0 && !quitting) rl.prompt();
    });
  });
  rl.on('SIGTSTP', () => {
    const r = session.detach();
    output.write(`\n${r.ok ? r.text : 'nothing to detach from (Ctrl+Z detaches from an attached app)'}\n`);
    rl.prompt();
  });
  rl.on('SIGINT', () => {
    if (session.attachedId !== undefined) {
      output.write('\n(Ctrl+Z detaches; Ctrl+C is not sent to the app)\n');
      return;
    }
    if (rl.line) {
      rl.write(null, { ctrl: true, name: 'u' }); // clear what was typed, like a shell
      output.write('\n');
      rl.prompt();
      return;
    }
    if (++ctrlC >= 2) return engine.requestQuit();
    output.write('\n(press Ctrl+C again or type "quit" to stop every app and Viscript)\n');
    rl.prompt();
  });
  rl.on('close', () => engine.requestQuit());
  rl.prompt();
  return session;
}
