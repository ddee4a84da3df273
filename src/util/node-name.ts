// A node's optional human name (`skywire node --name`), announced in the messenger beside its key and shown on
// the dashboard next to the key's hex prefix. Anyone can announce any name for their own key, so a name is a
// label, never an identity: it is always shown with the key, and it is checked on the way in (the CLI) and on
// the way out (what the dashboard reads from the messenger, where a stranger may have put anything).

export const NODE_NAME_MAX = 32;
/** Letters and digits of any script, space and a few marks: no control, format (bidi) or markup characters. */
const NAME_RE = /^[\p{L}\p{N}](?:[\p{L}\p{N} ._@()'-]*[\p{L}\p{N}.)_-])?$/u;

export function isNodeName(v: unknown): v is string {
  return typeof v === 'string' && [...v].length <= NODE_NAME_MAX && NAME_RE.test(v);
}

/** Checks a name typed by the user; throws a one-line error naming `flag` and the value. */
export function parseNodeName(text: string, flag = '--name'): string {
  if (!isNodeName(text)) {
    throw new Error(`${flag} "${text}" must be 1-${NODE_NAME_MAX} letters or digits, with spaces or . _ - @ ( ) ' inside`);
  }
  return text;
}
