// vpn-relay.cases.ts with the TUN offload path off (`--offload off` on both ends).
import { useOffload } from './offload-mode.js';

useOffload('off');
await import('./vpn-relay.cases.js');
