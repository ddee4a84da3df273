// The cases of vpn-in-node.cases.ts with the TUN offload path on (`--offload on` on both ends).
import { test } from 'node:test';
import { cases, useOffload } from './offload-mode.js';

useOffload('on');
await import('./vpn-in-node.cases.js');
for (const c of cases) test(`${c.name} (offload on)`, c.opts, c.fn);
