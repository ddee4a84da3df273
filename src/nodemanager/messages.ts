// The shapes of what nodes send the manager (control messages and replies), checked before use: a node is
// any key that opened a control link, so nothing it sends is trusted to be well formed.
import { z } from 'zod';

/** At most this many transports in one report (a frame may hold 1 MiB; the graph keeps each report). */
export const MAX_REPORTED_TRANSPORTS = 4096;
/** At most this many rules kept from one stats message (nodes send their first 500). */
export const MAX_REPORTED_RULES = 1000;

const pk = z
  .string()
  .regex(/^0[23][0-9a-fA-F]{64}$/, 'a public key is 66 hex characters')
  .transform((s) => s.toLowerCase());
// A latency above a minute is clamped there (a node that slow is as good as gone; the report still counts).
const latency = z.number().finite().nonnegative().transform((v) => Math.min(v, 60_000));
const port = z.number().int().min(0).max(65535);
const hops = z.number().int().min(1).max(64);
const count = z.number().finite().nonnegative();

const Transport = z.object({ pk, latencyMs: latency.nullish() });
const TransportList = z.array(Transport).max(MAX_REPORTED_TRANSPORTS);

export const NodeMessage = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), transports: TransportList }),
  z.object({ t: z.literal('transports'), list: TransportList }),
  z.object({
    t: z.literal('dial'),
    id: z.number().int(),
    to: pk,
    port,
    fromPort: port,
    minHops: hops.nullish(),
    maxHops: hops.nullish(),
  }),
  z.object({ t: z.literal('closed'), routeKey: z.string().max(64) }),
  z.object({
    t: z.literal('stats'),
    transports: z
      .array(
        z.object({
          pk,
          kind: z.string().max(32).optional(),
          latencyMs: latency.nullish().transform((v) => v ?? undefined),
          bytesIn: count.optional(),
          bytesOut: count.optional(),
        }),
      )
      .max(MAX_REPORTED_TRANSPORTS),
    rules: z
      .array(
        z.object({
          id: z.number().int().nonnegative(),
          kind: z.string().max(32),
          route: z.string().max(64),
          nextPk: pk.optional(),
          bytesIn: count,
          bytesOut: count,
        }),
      )
      .max(MAX_REPORTED_RULES),
  }),
]);
export type NodeMessage = z.infer<typeof NodeMessage>;

/** The reply to `{"t":"reserve","count":N}`: N distinct route ids (u32, 0 belongs to the transport). */
export function reserveReply(count: number) {
  return z.object({
    ids: z
      .array(z.number().int().min(1).max(0xffffffff))
      .min(1)
      .max(count)
      .refine((ids) => new Set(ids).size === ids.length, 'route ids must be distinct'),
  });
}

/** One line naming what was wrong with a message, for the reply and the log. */
export function describeIssue(err: z.ZodError): string {
  const i = err.issues[0];
  const where = i?.path.length ? i.path.join('.') : 'message';
  return `${where}: ${i?.message ?? 'bad shape'}`;
}
