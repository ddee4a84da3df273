// One behaviour for every command that writes a key file: its folder must exist. Creating folders silently
// hides a typo in the path; a missing folder is named, with what to do.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Undefined when `file`'s folder exists, else the one-line reason (for "<command>: <reason>"). */
export function missingKeyFolder(file: string, option: string): string | undefined {
  const dir = dirname(resolve(file));
  if (existsSync(dir) && statSync(dir).isDirectory()) return undefined;
  return `${option} ${file}: the folder ${dir} does not exist (create it first, e.g. mkdir -p ${dir})`;
}
