#!/usr/bin/env node
// Builds the browser front ends (src/web) with Vite into web-dist/. Run by `npm run build`.
// Until a front end exists, there is nothing to build.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
if (!existsSync(join(root, 'src', 'web', 'vite.config.ts'))) process.exit(0);
const { build } = await import('vite');
await build({ configFile: join(root, 'src', 'web', 'vite.config.ts'), logLevel: 'warn' });
