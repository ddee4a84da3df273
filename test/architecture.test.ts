// The layer rule of docs/design.md section 1: each folder of src/ imports only from the layers below it,
// and there are no import cycles between modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package root (whichever build folder this file was compiled into): the folder of our package.json.
function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'skywire-viscript') return dir;
    if (dirname(dir) === dir) throw new Error('package root not found');
  }
}
const src = join(packageRoot(), 'src');

// What each layer may import (besides itself). "node/sdk" means only that sub-folder of node.
const ALLOWED: Record<string, string[]> = {
  util: [],
  net: ['util'],
  signal: ['util', 'net'],
  messenger: ['util', 'net'],
  routing: ['util', 'net'],
  nodemanager: ['util', 'net', 'messenger', 'routing'],
  node: ['util', 'net', 'messenger', 'routing'],
  apps: ['util', 'net', 'messenger', 'node/sdk'],
  viscript: ['util', 'net', 'signal', 'messenger'],
  web: ['util'],
  cli: ['util', 'net', 'signal', 'messenger', 'routing', 'nodemanager', 'node', 'apps', 'viscript', 'web'],
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : /\.tsx?$/.test(n) && !n.endsWith('.d.ts') ? [p] : [];
  });
}

function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|^import\s+['"](\.[^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    out.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
  }
  return out;
}

const files = walk(src);

test('each layer imports only from the layers below it', () => {
  const problems: string[] = [];
  for (const file of files) {
    const rel = relative(src, file);
    const layer = rel.split('/')[0];
    const allowed = ALLOWED[layer];
    if (!allowed) {
      if (rel.includes('/')) problems.push(`${rel}: folder "${layer}" is not a known layer`);
      continue;
    }
    for (const target of localImports(file)) {
      const trel = relative(src, target);
      const tlayer = trel.split('/')[0];
      if (tlayer === layer) continue;
      const ok = allowed.some((a) => (a.includes('/') ? trel.startsWith(a + '/') : a === tlayer));
      if (!ok) problems.push(`${rel} imports ${trel}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('there are no import cycles', () => {
  const graph = new Map(files.map((f) => [f, localImports(f).filter((t) => t.startsWith(src))]));
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, stack: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') {
      cycles.push([...stack.slice(stack.indexOf(f)), f].map((p) => relative(src, p)).join(' -> '));
      return;
    }
    state.set(f, 'visiting');
    for (const t of graph.get(f) ?? []) visit(t, [...stack, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(cycles, []);
});
