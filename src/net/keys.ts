// Identity keys: secp256k1 key pairs (as in Skycoin), public key = 33-byte compressed point shown as 66 hex
// characters, stored in JSON key files that only their owner may read.
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateSecp256k1, isValidCompressedPoint, isValidSecretKey, publicKeyOf } from './secp256k1.js';

export interface KeyPair {
  /** 33 bytes, compressed point. */
  publicKey: Buffer;
  /** 32 bytes. */
  secretKey: Buffer;
}

export const PUBLIC_KEY_BYTES = 33;
export const SECRET_KEY_BYTES = 32;

export function generateKeyPair(): KeyPair {
  return generateSecp256k1();
}

/** The key pair of a known secret key (throws a clear Error if it is not a valid secp256k1 secret). */
export function keyPairFromSecret(secret: Uint8Array): KeyPair {
  if (!isValidSecretKey(secret)) {
    throw new Error(`secret key must be ${SECRET_KEY_BYTES} bytes in the range of secp256k1`);
  }
  const secretKey = Buffer.from(secret);
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

export function pkToHex(pk: Uint8Array): string {
  return Buffer.from(pk.buffer, pk.byteOffset, pk.byteLength).toString('hex');
}

/** True if `pk` is a 33-byte compressed point on secp256k1. */
export function isValidPublicKey(pk: Uint8Array): boolean {
  return isValidCompressedPoint(pk);
}

function preview(text: string): string {
  return text.length > 20 ? `${text.slice(0, 16)}...` : text;
}

/** Parses a public key typed by a user or read from a file: 66 hex characters of a compressed point. */
export function parsePublicKey(hex: string): Buffer {
  if (typeof hex !== 'string') throw new Error('public key must be a string of 66 hex characters');
  const s = hex.trim();
  if (!/^[0-9a-fA-F]*$/.test(s)) throw new Error(`public key "${preview(s)}" is not hexadecimal`);
  if (s.length !== PUBLIC_KEY_BYTES * 2) {
    throw new Error(`public key "${preview(s)}" must be ${PUBLIC_KEY_BYTES * 2} hex characters (33-byte compressed), got ${s.length}`);
  }
  const pk = Buffer.from(s, 'hex');
  if (!isValidPublicKey(pk)) throw new Error(`public key "${preview(s)}" is not a compressed point on secp256k1`);
  return pk;
}

/** First 8 hex characters of a public key, for logs. */
export function shortPk(pk: Uint8Array | string): string {
  return (typeof pk === 'string' ? pk : pkToHex(pk)).slice(0, 8);
}

// ---- key files -------------------------------------------------------------------------------------------

interface KeyFileJson {
  publicKey: string;
  secretKey: string;
}

/**
 * Writes `{ "publicKey": hex, "secretKey": hex }`, created with mode 0600 (never chmod-ed afterwards, so the
 * secret is never readable by others, not even briefly). Refuses to replace an existing file unless
 * `overwrite` is set; the replacement is atomic (temp file + rename).
 */
export function writeKeyFile(path: string, kp: KeyPair, opts: { overwrite?: boolean } = {}): void {
  const body: KeyFileJson = { publicKey: pkToHex(kp.publicKey), secretKey: pkToHex(kp.secretKey) };
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(body, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (opts.overwrite) {
      renameSync(tmp, path);
    } else {
      // link() fails with EEXIST instead of replacing, atomically.
      linkSync(tmp, path);
      unlinkSync(tmp);
    }
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`key file ${path} already exists (refusing to overwrite an identity)`, { cause: err });
    }
    throw err;
  }
}

/** Reads and checks a key file; every problem is a one-line Error naming the file and the fix. */
export function readKeyFile(path: string): KeyPair {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`key file ${path} does not exist (create one with: skywire keygen --out ${path})`, { cause: err });
    throw new Error(`cannot read key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new Error(`key file ${path} is readable by group/others (mode ${octal}); fix it with: chmod 600 ${path}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`key file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(`key file ${path} must hold a JSON object with publicKey and secretKey`);
  const { publicKey, secretKey } = json as Partial<Record<keyof KeyFileJson, unknown>>;
  if (typeof secretKey !== 'string' || !/^[0-9a-fA-F]{64}$/.test(secretKey)) {
    throw new Error(`key file ${path}: "secretKey" must be 64 hex characters`);
  }
  if (typeof publicKey !== 'string') throw new Error(`key file ${path}: "publicKey" is missing`);
  let pk: Buffer;
  try {
    pk = parsePublicKey(publicKey);
  } catch (err) {
    throw new Error(`key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let kp: KeyPair;
  try {
    kp = keyPairFromSecret(Buffer.from(secretKey, 'hex'));
  } catch (err) {
    throw new Error(`key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!kp.publicKey.equals(pk)) throw new Error(`key file ${path}: publicKey does not match secretKey`);
  return kp;
}

/** Reads the key file, or creates it (and its directory, mode 0700) with a new key pair if it does not exist. */
export function loadOrCreateKeyFile(path: string): KeyPair {
  try {
    statSync(path);
    return readKeyFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !/does not exist/.test((err as Error).message)) throw err;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const kp = generateKeyPair();
  try {
    writeKeyFile(path, kp);
  } catch (err) {
    // Another process created it first: use theirs.
    if (/already exists/.test((err as Error).message)) return readKeyFile(path);
    throw err;
  }
  return kp;
}
