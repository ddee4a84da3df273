// Messenger addresses as users type them: "PK@HOST:PORT", the messenger's public key and where it listens.
import { parsePublicKey, pkToHex } from '../net/keys.js';
import { formatHostPort, parseHostPort } from '../util/hostport.js';

export interface MessengerAddress {
  pk: Buffer;
  host: string;
  port: number;
}

export function parseMessengerAddress(text: string): MessengerAddress {
  const s = String(text).trim();
  const at = s.indexOf('@');
  if (at < 0) throw new Error(`messenger address "${s}" must be PK@HOST:PORT`);
  let pk: Buffer;
  try {
    pk = parsePublicKey(s.slice(0, at));
  } catch (err) {
    throw new Error(`messenger address "${s}": ${(err as Error).message}`, { cause: err });
  }
  let hp;
  try {
    hp = parseHostPort(s.slice(at + 1));
  } catch (err) {
    throw new Error(`messenger address "${s}": ${(err as Error).message}`, { cause: err });
  }
  if (hp.port === 0) throw new Error(`messenger address "${s}": port must not be 0`);
  return { pk, host: hp.host, port: hp.port };
}

export function formatMessengerAddress(a: MessengerAddress): string {
  return `${pkToHex(a.pk)}@${formatHostPort(a)}`;
}
