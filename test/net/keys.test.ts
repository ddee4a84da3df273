// Identity keys and key files: what users type and what sits on disk must be checked with clear messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateKeyPair,
  loadOrCreateKeyFile,
  parsePublicKey,
  pkToHex,
  readKeyFile,
  shortPk,
  writeKeyFile,
} from '../../src/net/keys.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'net-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('generated keys are 33-byte compressed public keys shown as 66 hex characters', () => {
  const kp = generateKeyPair();
  assert.equal(kp.publicKey.length, 33);
  assert.equal(kp.secretKey.length, 32);
  assert.ok(kp.publicKey[0] === 2 || kp.publicKey[0] === 3);
  const hex = pkToHex(kp.publicKey);
  assert.match(hex, /^[0-9a-f]{66}$/);
  assert.ok(parsePublicKey(hex).equals(kp.publicKey));
  assert.ok(parsePublicKey(hex.toUpperCase()).equals(kp.publicKey), 'hex case does not matter');
  assert.equal(shortPk(kp.publicKey), hex.slice(0, 8));
  assert.equal(shortPk(hex), hex.slice(0, 8));
});

test('parsePublicKey rejects wrong length, non-hex and points off the curve with clear messages', () => {
  const good = pkToHex(generateKeyPair().publicKey);
  assert.throws(() => parsePublicKey(good.slice(0, 64)), /must be 66 hex characters .*got 64/);
  assert.throws(() => parsePublicKey(good + '00'), /must be 66 hex characters .*got 68/);
  assert.throws(() => parsePublicKey('zz' + good.slice(2)), /is not hexadecimal/);
  assert.throws(() => parsePublicKey('04' + good.slice(2)), /not a compressed point on secp256k1/);
  // x = 5 is not on secp256k1 (5^3 + 7 = 132 is not a square mod p).
  assert.throws(() => parsePublicKey('02' + '00'.repeat(31) + '05'), /not a compressed point on secp256k1/);
  assert.throws(() => parsePublicKey(''), /got 0/);
});

test('writeKeyFile creates the file with mode 0600 and readKeyFile reads it back', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'key.json');
  const kp = generateKeyPair();
  writeKeyFile(file, kp);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(Object.keys(json).sort(), ['publicKey', 'secretKey']);
  assert.equal(json.publicKey, pkToHex(kp.publicKey));
  const back = readKeyFile(file);
  assert.ok(back.publicKey.equals(kp.publicKey));
  assert.ok(back.secretKey.equals(kp.secretKey));
});

test('writeKeyFile refuses to replace an identity unless asked, and the replacement stays 0600', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'key.json');
  writeKeyFile(file, generateKeyPair());
  assert.throws(() => writeKeyFile(file, generateKeyPair()), /already exists/);
  chmodSync(file, 0o644);
  const kp = generateKeyPair();
  writeKeyFile(file, kp, { overwrite: true });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(readKeyFile(file).publicKey.equals(kp.publicKey));
});

test('readKeyFile refuses a file readable by others and says how to fix it', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'key.json');
  writeKeyFile(file, generateKeyPair());
  chmodSync(file, 0o644);
  assert.throws(() => readKeyFile(file), (err: Error) => err.message.includes('readable by group/others') && err.message.includes(`chmod 600 ${file}`));
  chmodSync(file, 0o640);
  assert.throws(() => readKeyFile(file), /chmod 600/);
  chmodSync(file, 0o600);
  assert.doesNotThrow(() => readKeyFile(file));
});

test('readKeyFile gives one-line errors for missing, malformed and mismatched files', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'key.json');
  const oneLine = (re: RegExp) => (err: Error) => re.test(err.message) && !err.message.includes('\n');
  assert.throws(() => readKeyFile(file), oneLine(/does not exist .*skywire keygen --out/));
  const write = (text: string) => writeFileSync(file, text, { mode: 0o600 });
  write('{not json');
  assert.throws(() => readKeyFile(file), oneLine(/is not valid JSON/));
  for (const notObject of ['null', '[]', '1', '"x"', 'true']) {
    write(notObject);
    assert.throws(() => readKeyFile(file), oneLine(/must hold a JSON object with publicKey and secretKey/), notObject);
  }
  for (const wrong of ['{}', '{"secretKey":5}', '{"secretKey":["00"]}', '{"secretKey":null}']) {
    write(wrong);
    assert.throws(() => readKeyFile(file), oneLine(/"secretKey" must be 64 hex characters/), wrong);
  }
  write(JSON.stringify({ publicKey: 5, secretKey: '11'.repeat(32) }));
  assert.throws(() => readKeyFile(file), oneLine(/"publicKey" is missing/));
  const a = generateKeyPair();
  const b = generateKeyPair();
  write(JSON.stringify({ secretKey: a.secretKey.toString('hex') }));
  assert.throws(() => readKeyFile(file), oneLine(/"publicKey" is missing/));
  write(JSON.stringify({ publicKey: pkToHex(a.publicKey).slice(2), secretKey: a.secretKey.toString('hex') }));
  assert.throws(() => readKeyFile(file), oneLine(/must be 66 hex characters/));
  write(JSON.stringify({ publicKey: pkToHex(b.publicKey), secretKey: a.secretKey.toString('hex') }));
  assert.throws(() => readKeyFile(file), oneLine(/publicKey does not match secretKey/));
  write(JSON.stringify({ publicKey: pkToHex(a.publicKey), secretKey: '00'.repeat(32) }));
  assert.throws(() => readKeyFile(file), oneLine(/secret key must be 32 bytes in the range of secp256k1/));
});

test('loadOrCreateKeyFile creates once (and its directory) and then keeps the same identity', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'nested', 'node', 'key.json');
  const first = loadOrCreateKeyFile(file);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const again = loadOrCreateKeyFile(file);
  assert.ok(again.publicKey.equals(first.publicKey));
  chmodSync(file, 0o644);
  assert.throws(() => loadOrCreateKeyFile(file), /chmod 600/, 'an unsafe file is an error, not silently replaced');
});
