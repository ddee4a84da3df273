// The cases of vpn-in-node.cases.ts with the TUN offload path off (`--offload off` on both ends).
import { test } from 'node:test';
import { cases, useOffload } from './offload-mode.js';

useOffload('off');
await import('./vpn-in-node.cases.js');
for (const c of cases) test(`${c.name} (offload off)`, c.opts, c.fn);
