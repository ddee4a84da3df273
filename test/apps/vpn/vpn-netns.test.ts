// vpn-netns.cases.ts with the TUN offload path on (the default).
import { useOffload } from './offload-mode.js';

useOffload('on');
await import('./vpn-netns.cases.js');
