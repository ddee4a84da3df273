// BOLT #8 Appendix A, byte for byte: the handshake state machine with the fixed ephemeral keys, the same
// handshakes over real TCP sockets against a scripted peer, every listed failure, and the message test with its
// key rotations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Handshake, HandshakeError } from '../../src/net/handshake.js';
import { keyPairFromSecret, pkToHex } from '../../src/net/keys.js';
import { MessageDecoder, MessageEncryptor } from '../../src/net/message-cipher.js';
import { secureAccept, secureConnect } from '../../src/net/secure.js';
import { collector, tcpPair } from './helpers.js';

const hex = (s: string) => Buffer.from(s.replace(/^0x/, ''), 'hex');
const fill = (b: number) => keyPairFromSecret(Buffer.alloc(32, b));

const RS = fill(0x21); // responder static
const LS = fill(0x11); // initiator static
const IE = fill(0x12); // initiator ephemeral
const RE = fill(0x22); // responder ephemeral
const PROLOGUE = 'lightning';

const ACT1 = hex(
  '0x00036360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f70df6086551151f58b8afe6c195782c6a',
);
const ACT2 = hex(
  '0x0002466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafca3f730ae',
);
const ACT3 = hex(
  '0x00b9e3a702e93e3a9948c2ed6e5fd7590a6e1c3a0344cfc9d5b57357049aa22355361aa02e55a8fc28fef5bd6d71ad0c38228dc68b1c466263b47fdf31e560e139ba',
);
const SK = '969ab31b4d288cedf6218839b27a3e2140827047f2c0f01bf5c04435d43511a9';
const RK = 'bb9020b8965f4df047e07f955f3c4b88418984aadc5cdb35096b9ea8fa5c3442';
const CK = '919219dbb2920afa8db80f9a51787a840bcf111ed8d588caf9ab4be716e42b01';

const initiator = () => new Handshake('initiator', LS, { remotePublicKey: RS.publicKey, prologue: PROLOGUE, ephemeral: IE });
const responder = () => new Handshake('responder', RS, { prologue: PROLOGUE, ephemeral: RE });

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof HandshakeError && err.code === code);
}

test('the vector keys are the published ones', () => {
  assert.equal(pkToHex(RS.publicKey), '028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7');
  assert.equal(pkToHex(LS.publicKey), '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa');
  assert.equal(pkToHex(IE.publicKey), '036360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f7');
  assert.equal(pkToHex(RE.publicKey), '02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27');
});

test('transport-initiator successful handshake', () => {
  const i = initiator();
  assert.equal(i.act1().toString('hex'), ACT1.toString('hex'));
  i.readAct2(ACT2);
  assert.equal(i.act3().toString('hex'), ACT3.toString('hex'));
  const r = i.result();
  assert.equal(r.sendKey.toString('hex'), SK);
  assert.equal(r.recvKey.toString('hex'), RK);
  assert.equal(r.chainingKey.toString('hex'), CK);
  assert.ok(r.remotePublicKey.equals(RS.publicKey));
});

test('transport-initiator act2 failures', () => {
  const cases: Array<[string, string, string]> = [
    ['short read', '0x0002466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafca3f730', 'ACT2_READ_FAILED'],
    ['bad version', '0x0102466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafca3f730ae', 'ACT2_BAD_VERSION'],
    ['bad key serialization', '0x0004466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafca3f730ae', 'ACT2_BAD_PUBKEY'],
    ['bad MAC', '0x0002466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafca3f730af', 'ACT2_BAD_TAG'],
  ];
  for (const [name, input, code] of cases) {
    const i = initiator();
    assert.equal(i.act1().toString('hex'), ACT1.toString('hex'), name);
    throwsCode(() => i.readAct2(hex(input)), code);
  }
});

test('transport-responder successful handshake', () => {
  const r = responder();
  r.readAct1(ACT1);
  assert.equal(r.act2().toString('hex'), ACT2.toString('hex'));
  r.readAct3(ACT3);
  const res = r.result();
  // The responder's rk is the initiator's sk and vice versa.
  assert.equal(res.recvKey.toString('hex'), SK);
  assert.equal(res.sendKey.toString('hex'), RK);
  assert.equal(res.chainingKey.toString('hex'), CK);
  assert.equal(pkToHex(res.remotePublicKey), pkToHex(LS.publicKey));
});

const RESPONDER_ACT1_FAILURES: Array<[string, string, string]> = [
  ['short read', '0x00036360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f70df6086551151f58b8afe6c195782c', 'ACT1_READ_FAILED'],
  ['bad version', '0x01036360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f70df6086551151f58b8afe6c195782c6a', 'ACT1_BAD_VERSION'],
  ['bad key serialization', '0x00046360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f70df6086551151f58b8afe6c195782c6a', 'ACT1_BAD_PUBKEY'],
  ['bad MAC', '0x00036360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f70df6086551151f58b8afe6c195782c6b', 'ACT1_BAD_TAG'],
];
const RESPONDER_ACT3_FAILURES: Array<[string, string, string]> = [
  ['bad version', '0x01b9e3a702e93e3a9948c2ed6e5fd7590a6e1c3a0344cfc9d5b57357049aa22355361aa02e55a8fc28fef5bd6d71ad0c38228dc68b1c466263b47fdf31e560e139ba', 'ACT3_BAD_VERSION'],
  ['short read', '0x00b9e3a702e93e3a9948c2ed6e5fd7590a6e1c3a0344cfc9d5b57357049aa22355361aa02e55a8fc28fef5bd6d71ad0c38228dc68b1c466263b47fdf31e560e139', 'ACT3_READ_FAILED'],
  ['bad MAC for ciphertext', '0x00c9e3a702e93e3a9948c2ed6e5fd7590a6e1c3a0344cfc9d5b57357049aa22355361aa02e55a8fc28fef5bd6d71ad0c38228dc68b1c466263b47fdf31e560e139ba', 'ACT3_BAD_CIPHERTEXT'],
  ['bad rs', '0x00bfe3a702e93e3a9948c2ed6e5fd7590a6e1c3a0344cfc9d5b57357049aa2235536ad09a8ee351870c2bb7f78b754a26c6cef79a98d25139c856d7efd252c2ae73c', 'ACT3_BAD_PUBKEY'],
  ['bad MAC', '0x00b9e3a702e93e3a9948c2ed6e5fd7590a6e1c3a0344cfc9d5b57357049aa22355361aa02e55a8fc28fef5bd6d71ad0c38228dc68b1c466263b47fdf31e560e139bb', 'ACT3_BAD_TAG'],
];

test('transport-responder act1 and act3 failures', () => {
  for (const [, input, code] of RESPONDER_ACT1_FAILURES) throwsCode(() => responder().readAct1(hex(input)), code);
  for (const [name, input, code] of RESPONDER_ACT3_FAILURES) {
    const r = responder();
    r.readAct1(ACT1);
    assert.equal(r.act2().toString('hex'), ACT2.toString('hex'), name);
    throwsCode(() => r.readAct3(hex(input)), code);
  }
});

test('transport-message test: 1001 "hello" messages with two key rotations', () => {
  const expected = new Map<number, string>([
    [0, 'cf2b30ddf0cf3f80e7c35a6e6730b59fe802473180f396d88a8fb0db8cbcf25d2f214cf9ea1d95'],
    [1, '72887022101f0b6753e0c7de21657d35a4cb2a1f5cde2650528bbc8f837d0f0d7ad833b1a256a1'],
    [500, '178cb9d7387190fa34db9c2d50027d21793c9bc2d40b1e14dcf30ebeeeb220f48364f7a4c68bf8'],
    [501, '1b186c57d44eb6de4c057c49940d79bb838a145cb528d6e8fd26dbe50a60ca2c104b56b60e45bd'],
    [1000, '4a2f3cc3b5e78ddb83dcb426d9863d9d9a723b0337c89dd0b005d89f8d3c05c52b76b29b740f09'],
    [1001, '2ecd8c8a5629d0d02ab457a0fdd0f7b90a192cd46be5ecb6ca570bfc5e268338b1a16cf4ef2d36'],
  ]);
  const enc = new MessageEncryptor(hex(SK), hex(CK));
  // The responder decrypts the same stream with its rk (= the initiator's sk), rotating in step.
  const dec = new MessageDecoder(hex(SK), hex(CK));
  const hello = Buffer.from('hello');
  let seen = 0;
  for (let n = 0; n <= 1001; n++) {
    const wire = enc.encryptToBuffer(hello);
    const want = expected.get(n);
    if (want) {
      assert.equal(wire.toString('hex'), want, `output ${n}`);
      seen++;
    }
    const plain = dec.push(wire);
    assert.equal(Buffer.concat(plain).toString(), 'hello', `message ${n} decrypts`);
  }
  assert.equal(seen, 6);
});

// ---- the same vectors through the socket code (secureConnect / secureAccept) over real TCP ----

test('initiator over TCP sends the vector acts and derives the vector keys', async (t) => {
  const { client, server } = await tcpPair(t);
  const peer = collector(server);
  const ch = secureConnect(client, RS.publicKey, { localKey: LS, prologue: PROLOGUE, ephemeralKeyForTests: IE });
  assert.equal((await peer.take(50)).toString('hex'), ACT1.toString('hex'));
  server.write(ACT2);
  assert.equal((await peer.take(66)).toString('hex'), ACT3.toString('hex'));
  const channel = await ch;
  assert.ok(channel.remotePublicKey.equals(RS.publicKey));
  assert.ok(channel.localPublicKey.equals(LS.publicKey));
  // The first message on the wire is the vector's "output 0".
  channel.write('hello');
  assert.equal(
    (await peer.take(39)).toString('hex'),
    'cf2b30ddf0cf3f80e7c35a6e6730b59fe802473180f396d88a8fb0db8cbcf25d2f214cf9ea1d95',
  );
  channel.destroy();
});

test('responder over TCP answers the vector act 2 and authenticates the initiator key', async (t) => {
  const { client, server } = await tcpPair(t);
  const peer = collector(client);
  const ch = secureAccept(server, { localKey: RS, prologue: PROLOGUE, ephemeralKeyForTests: RE });
  client.write(ACT1);
  assert.equal((await peer.take(50)).toString('hex'), ACT2.toString('hex'));
  // Act three and the first message in one write: the channel must pick the message up from the same read.
  client.write(Buffer.concat([ACT3, hex('cf2b30ddf0cf3f80e7c35a6e6730b59fe802473180f396d88a8fb0db8cbcf25d2f214cf9ea1d95')]));
  const channel = await ch;
  assert.equal(pkToHex(channel.remotePublicKey), pkToHex(LS.publicKey));
  const [data] = (await once(channel, 'data')) as [Buffer];
  assert.equal(data.toString(), 'hello');
  channel.destroy();
});

test('initiator over TCP rejects each bad act 2 and closes the socket', async (t) => {
  const cases: Array<[string, string]> = [
    ['0x0102466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafca3f730ae', 'ACT2_BAD_VERSION'],
    ['0x0004466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafca3f730ae', 'ACT2_BAD_PUBKEY'],
    ['0x0002466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafca3f730af', 'ACT2_BAD_TAG'],
  ];
  for (const [input, code] of cases) {
    const { client, server } = await tcpPair(t);
    const peer = collector(server);
    const ch = secureConnect(client, RS.publicKey, { localKey: LS, prologue: PROLOGUE, ephemeralKeyForTests: IE });
    await peer.take(50);
    const closed = once(server, 'close');
    server.write(hex(input));
    await assert.rejects(ch, (err: unknown) => err instanceof HandshakeError && err.code === code);
    await closed; // the initiator hung up without sending anything else
    assert.equal(peer.buffered.length, 0);
  }
  // Short read: the responder sends 49 bytes and hangs up.
  const { client, server } = await tcpPair(t);
  const peer = collector(server);
  const ch = secureConnect(client, RS.publicKey, { localKey: LS, prologue: PROLOGUE, ephemeralKeyForTests: IE });
  await peer.take(50);
  server.end(ACT2.subarray(0, 49));
  await assert.rejects(ch, (err: unknown) => err instanceof HandshakeError && err.code === 'ACT2_READ_FAILED');
});

test('responder over TCP rejects each bad act 1 and act 3 without sending anything more', async (t) => {
  for (const [name, input, code] of RESPONDER_ACT1_FAILURES) {
    const { client, server } = await tcpPair(t);
    const ch = secureAccept(server, { localKey: RS, prologue: PROLOGUE, ephemeralKeyForTests: RE });
    const peer = collector(client);
    if (code === 'ACT1_READ_FAILED') client.end(hex(input));
    else client.write(hex(input));
    await assert.rejects(ch, (err: unknown) => err instanceof HandshakeError && err.code === code, name);
    await once(client, 'close');
    assert.equal(peer.buffered.length, 0, `${name}: nothing sent back`);
  }
  for (const [name, input, code] of RESPONDER_ACT3_FAILURES) {
    const { client, server } = await tcpPair(t);
    const ch = secureAccept(server, { localKey: RS, prologue: PROLOGUE, ephemeralKeyForTests: RE });
    const peer = collector(client);
    client.write(ACT1);
    assert.equal((await peer.take(50)).toString('hex'), ACT2.toString('hex'));
    const closed = once(client, 'close');
    if (code === 'ACT3_READ_FAILED') client.end(hex(input));
    else client.write(hex(input));
    await assert.rejects(ch, (err: unknown) => err instanceof HandshakeError && err.code === code, name);
    await closed;
    assert.equal(peer.buffered.length, 0, `${name}: nothing sent back`);
  }
});
