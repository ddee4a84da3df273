// The hub <-> agent protocol (docs/cluster.md). It runs inside a BOLT #8 channel made end to end over a
// relayed messenger stream (port CLUSTER_PORT), so the messenger relays ciphertext and both ends prove their
// keys to each other. Messages are the control link's frames (`len u32 | JSON`, at most 1 MiB): requests carry
// an `id` and get a reply; the agent's streamed output carries none. Every message is shape-checked here
// before use, on both sides.
import { z } from 'zod';

export const CLUSTER_PORT = 7990;
export const PROTOCOL_VERSION = 1;
/** A command line or a line of input for an attached app. */
export const MAX_LINE = 8192;
/** Remote shell sessions one hub may hold open on an agent (each is a ShellSession there). */
export const MAX_SHELLS = 32;
/** The hub asks each online agent for its status this often... */
export const STATUS_INTERVAL_MS = 1000;
/** ...and drops the link (the machine shows offline) when no answer comes within this time. */
export const STATUS_TIMEOUT_MS = 3000;
/** Output to a hub is dropped past this many unsent bytes, so a chatty app cannot fill the agent's memory. */
export const MAX_OUTPUT_BACKLOG = 1024 * 1024;
/** The datagram an agent sends its hubs so they dial it at once (after its start or their restart). */
export const WAKE_DATAGRAM = Buffer.from('viscript-cluster-wake 1');

const sid = z.number().int().min(1).max(2 ** 31);

// Hub -> agent requests.
export const agentRequest = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), id: z.number(), v: z.number().int() }),
  z.object({ t: z.literal('status'), id: z.number() }),
  z.object({ t: z.literal('open'), id: z.number(), sid, interactive: z.boolean(), columns: z.number().int().min(20).max(1000).optional() }),
  z.object({ t: z.literal('line'), id: z.number(), sid, text: z.string().max(MAX_LINE) }),
  z.object({ t: z.literal('close'), id: z.number().optional(), sid }),
  z.object({ t: z.literal('deploy'), id: z.number(), name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), app: z.record(z.string(), z.unknown()) }),
]);
export type AgentRequest = z.infer<typeof agentRequest>;

export const machineStatus = z.object({
  hostname: z.string().max(255),
  os: z.string().max(100),
  arch: z.string().max(50),
  cores: z.number().int().min(0).max(1_000_000),
  load: z.array(z.number()).length(3),
  memUsed: z.number().min(0),
  memTotal: z.number().min(0),
  uptimeS: z.number().min(0),
  appsRunning: z.number().int().min(0),
  appsConfigured: z.number().int().min(0),
  version: z.string().max(50),
});
export type MachineStatus = z.infer<typeof machineStatus>;

export const helloReply = z.object({ v: z.number().int(), version: z.string().max(50) });
export const statusReply = z.object({ status: machineStatus });

const commandResult = z.object({
  ok: z.boolean(),
  command: z.string().max(64),
  text: z.string(),
  data: z.unknown().optional(),
  clear: z.boolean().optional(),
});
export const lineReply = z.object({
  result: commandResult.nullable(),
  attached: z.number().int().nullable(),
  following: z.boolean(),
});
export type LineReply = z.infer<typeof lineReply>;
export const deployReply = z.object({ text: z.string().max(4096) });

const outputLine = z.object({ stream: z.enum(['stdout', 'stderr']), text: z.string(), t: z.number() });
// Agent -> hub, unsolicited, for a remote shell session.
export const agentPush = z.discriminatedUnion('t', [
  z.object({ t: z.literal('output'), sid, id: z.number().int(), stream: z.enum(['stdout', 'stderr']), chunk: z.string(), lines: z.array(outputLine).max(10_000) }),
  z.object({ t: z.literal('event'), sid, event: z.enum(['exit', 'restarting', 'registered', 'fatal']), text: z.string().max(65536), app: z.record(z.string(), z.unknown()) }),
  z.object({ t: z.literal('attach'), sid, attached: z.number().int().nullable() }),
  z.object({ t: z.literal('info'), sid, text: z.string().max(65536) }),
]);
export type AgentPush = z.infer<typeof agentPush>;

/** One line naming the first problem of a failed parse, e.g. `text: Too big: ...`. */
export function problem(err: z.ZodError): string {
  const i = err.issues[0];
  return `${i.path.join('.') || '(top level)'}: ${i.message}`;
}
