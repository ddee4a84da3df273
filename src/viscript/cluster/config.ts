// The `cluster:` section of config.yaml. One Viscript may be an agent (it lists the hubs allowed to control
// it), a hub (it lists the machines it manages by name and public key), or both. Keys are checked here, so a
// typo in a 66-hex key is a config error with its line, not a silent "offline" later.
import { z } from 'zod';

const PK = z.string().regex(/^0[23][0-9a-fA-F]{64}$/, 'must be a public key: 66 hex characters starting with 02 or 03');
const MACHINE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/;

export const clusterSchema = z.strictObject({
  /** This Viscript's own key file (created with mode 0600 when missing), relative to the config file. */
  key: z.string().min(1, 'must not be empty'),
  /** Messengers to register with, as PK@HOST:PORT (hub and agents must share at least one). */
  messengers: z.array(z.string().regex(/^0[23][0-9a-fA-F]{64}@\S+:\d+$/, 'must be PK@HOST:PORT')).min(1, 'needs at least one messenger'),
  /** Agent: the public keys of the hubs that may control this machine. */
  hubs: z.array(PK).max(16).nullish().transform((v) => v ?? []),
  /** Hub: the machines it manages, name -> public key. */
  machines: z
    .record(z.string().regex(MACHINE_NAME, 'machine names start with a letter and use letters, digits, "_", "." and "-" (at most 32)'), PK)
    .nullish()
    .transform((v) => v ?? {}),
  /** Agent: whether listed hubs may push app definitions (`deploy`). */
  acceptDeploy: z.boolean().default(true),
});

export type ClusterSection = z.infer<typeof clusterSchema>;

export interface ClusterConfig {
  keyFile: string;
  messengers: string[];
  hubs: string[];
  machines: Map<string, string>;
  acceptDeploy: boolean;
}

export function isMachineName(s: string): boolean {
  return MACHINE_NAME.test(s);
}
