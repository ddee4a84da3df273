// The README's "On many machines" recipe as data: its shell lines, grouped by the machine they run on.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

export interface RecipeLine {
  machines: string[];
  line: string;
}

/** The lines of the section's sh block under each "# Machine X" / "# Machines X, Y and Z" header, in order. */
export function readRecipe(path = README): { lines: RecipeLine[]; everyMachine: string[] } {
  const text = readFileSync(path, 'utf8');
  const section = /^## On many machines\n([\s\S]*?)^## /m.exec(text)?.[1];
  if (!section) throw new Error(`${path} has no "## On many machines" section`);
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('the "On many machines" section has no sh block');
  const lines: RecipeLine[] = [];
  const everyMachine: string[] = [];
  let machines: string[] | 'every' | undefined;
  for (const raw of block.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#   ')) continue;
    if (l.startsWith('#')) {
      if (/^# Every machine\b/.test(l)) machines = 'every';
      else {
        const m = /^# Machines? ([A-Z](?:, [A-Z])*(?: and [A-Z])?)\b/.exec(l);
        if (!m) throw new Error(`recipe header names no machine: ${l}`);
        machines = m[1].split(/, | and /);
      }
      continue;
    }
    if (!machines) throw new Error(`recipe line before any "# Machine" header: ${l}`);
    if (machines === 'every') everyMachine.push(l);
    else lines.push({ machines, line: l });
  }
  return { lines, everyMachine };
}
