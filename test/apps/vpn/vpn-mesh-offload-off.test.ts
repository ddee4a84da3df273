// The cases of vpn-mesh.cases.ts with the TUN offload path off (`--offload off` on both ends).
import { test } from 'node:test';
import { cases, useOffload } from './offload-mode.js';

useOffload('off');
await import('./vpn-mesh.cases.js');
for (const c of cases) test(`${c.name} (offload off)`, c.opts, c.fn);
