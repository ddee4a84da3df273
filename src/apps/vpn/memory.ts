// The VPN apps' memory lever (src/util/young-gen.ts): `SKYWIRE_VPN_YOUNG_GEN=default` leaves V8 as it is.
import { capYoungGeneration as cap } from '../../util/young-gen.js';

export function capYoungGeneration(env: NodeJS.ProcessEnv = process.env): boolean {
  return cap('SKYWIRE_VPN_YOUNG_GEN', env);
}
