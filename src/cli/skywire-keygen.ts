// `skywire keygen [--out FILE] [--force] [--json]`: creates a key pair file (mode 0600) and prints its public key.
// The secret key is never printed.
import { Command } from 'commander';
import { missingKeyFolder } from './key-file-folder.js';
import { parseCommandLine } from './usage.js';
import { generateKeyPair, pkToHex, writeKeyFile } from '../net/keys.js';

export const DEFAULT_KEY_FILE = 'skywire-key.json';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('skywire keygen')
    .description('create a secp256k1 key pair file (mode 0600) and print its public key')
    .option('-o, --out <file>', 'where to write the key file', DEFAULT_KEY_FILE)
    .option('-f, --force', 'replace an existing key file (its identity is lost)', false)
    .option('--json', 'print {"publicKey","file"} as JSON', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `skywire keygen: ${s}` : s) });
  const usage = parseCommandLine(program, argv);
  if (usage !== undefined) return usage;
  const opts = program.opts<{ out: string; force: boolean; json: boolean }>();
  const noFolder = missingKeyFolder(opts.out, '--out');
  if (noFolder) {
    console.error(`skywire keygen: ${noFolder}`);
    return 1;
  }
  const kp = generateKeyPair();
  try {
    writeKeyFile(opts.out, kp, { overwrite: opts.force });
  } catch (err) {
    const msg = (err as Error).message;
    console.error(`skywire keygen: ${msg}${/already exists/.test(msg) ? ' (use --force to replace it)' : ''}`);
    return 1;
  }
  const pk = pkToHex(kp.publicKey);
  if (opts.json) console.log(JSON.stringify({ publicKey: pk, file: opts.out }));
  else {
    console.log(pk);
    console.error(`key pair written to ${opts.out} (mode 0600)`);
  }
  return 0;
}
