// Entries, services and the validation of what clients announce (all announced data is bounded in size).
import { z } from 'zod';
import { parseHostPort } from '../util/hostport.js';

export interface Service {
  name: string;
  port: number;
  attrs?: Record<string, string>;
}

export interface Entry {
  /** Public key, 66 hex characters. */
  pk: string;
  /** host:port where the key accepts direct transports. */
  addresses: string[];
  services: Service[];
  /** Unix ms of the last frame received from the key (or of its disconnect). */
  lastSeen: number;
}

/** Caps on what one entry may hold, so a client cannot make the messenger store much. */
export const ENTRY_LIMITS = {
  addresses: 16,
  addressChars: 270,
  services: 32,
  nameChars: 64,
  attrs: 16,
  attrKeyChars: 64,
  attrValueChars: 256,
};

const address = z
  .string()
  .max(ENTRY_LIMITS.addressChars)
  .refine((s) => {
    try {
      parseHostPort(s);
      return true;
    } catch {
      return false;
    }
  }, 'address must be HOST:PORT');

const service = z.strictObject({
  name: z.string().min(1).max(ENTRY_LIMITS.nameChars),
  port: z.number().int().min(0).max(65535),
  attrs: z
    .record(z.string().min(1).max(ENTRY_LIMITS.attrKeyChars), z.string().max(ENTRY_LIMITS.attrValueChars))
    .refine((r) => Object.keys(r).length <= ENTRY_LIMITS.attrs, `at most ${ENTRY_LIMITS.attrs} attributes`)
    .optional(),
});

export const announceSchema = z.object({
  addresses: z.array(address).max(ENTRY_LIMITS.addresses).optional(),
  services: z.array(service).max(ENTRY_LIMITS.services).optional(),
});

export const helloSchema = announceSchema.extend({ version: z.number().int() });

export const QUERY_MAX_LIMIT = 100;
export const QUERY_DEFAULT_LIMIT = 50;

export const querySchema = z.object({
  service: z.string().min(1).max(ENTRY_LIMITS.nameChars).optional(),
  attr: z.object({ key: z.string().min(1).max(ENTRY_LIMITS.attrKeyChars), value: z.string().max(ENTRY_LIMITS.attrValueChars) }).optional(),
  offset: z.number().int().min(0).optional(),
  limit: z.number().int().min(1).max(QUERY_MAX_LIMIT).optional(),
});

export type Announce = z.infer<typeof announceSchema>;
export type Query = z.infer<typeof querySchema>;

/** One-line description of the first problem zod found. */
export function describeZodError(err: z.ZodError): string {
  const i = err.issues[0];
  return i ? `${i.path.join('.') || 'value'}: ${i.message}` : 'invalid';
}
