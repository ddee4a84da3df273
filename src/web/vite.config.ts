// Multi-page build of the browser front ends into web-dist/ (one page per GUI, shared chunks).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const pages = ['chat', 'dashboard', 'desktop'].filter((p) => existsSync(join(here, p, 'index.html')));

export default defineConfig({
  root: here,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: join(here, '..', '..', 'web-dist'),
    emptyOutDir: true,
    sourcemap: true,
    // The pages are served by our own server with a strict CSP: no inline module preload polyfill.
    modulePreload: { polyfill: false },
    rollupOptions: { input: Object.fromEntries(pages.map((p) => [p, join(here, p, 'index.html')])) },
  },
});
