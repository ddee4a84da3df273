// The static import graph of compiled modules (what loading a file loads before any of its code runs): to check
// that a process never pays for a package it does not use. Dynamic import() and createRequire are not followed:
// they are how a module loads something only when it is needed.
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Every module file reached from `entries` by static imports, and the bare package specifiers they import. */
export function staticImports(entries: string[]): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>(); // specifier -> the first file importing it
  const walk = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s(?:[^'"]*?from\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1];
      if (spec.startsWith('.')) walk(fileURLToPath(new URL(spec, pathToFileURL(file))));
      else if (!spec.startsWith('node:') && !packages.has(spec)) packages.set(spec, file);
    }
  };
  for (const e of entries) walk(e);
  return { files, packages };
}

/** The compiled file of a source path relative to the repository's src/ (e.g. 'cli/skywire-node.js'). */
export const compiled = (srcPath: string): string => fileURLToPath(new URL(`../../src/${srcPath}`, import.meta.url));
