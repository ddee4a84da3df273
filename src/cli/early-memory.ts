// Imported first by the skywire entry, so that it runs before any other module loads: the commands on the data
// path keep V8's nursery at its initial size (src/util/young-gen.ts, lever 1; docs/node.md, Memory). Set later,
// in the command itself, the nursery had already grown to 4 MiB per semi-space while the modules loaded.
import { capNurseryGrowth } from '../util/young-gen.js';

/** The data-path commands, and the variable that turns their memory levers off ("default"). */
const OFF_VARIABLE: Record<string, string> = {
  node: 'SKYWIRE_NODE_YOUNG_GEN',
  'vpn-client': 'SKYWIRE_VPN_YOUNG_GEN',
  'vpn-server': 'SKYWIRE_VPN_YOUNG_GEN',
};

const offVariable = OFF_VARIABLE[process.argv[2] ?? ''];
if (offVariable) capNurseryGrowth(offVariable);
