import crypto from 'node:crypto';
import path from 'node:path';
import {
  createEnvelope,
  encryptDm,
  generateAgreementKeyPair,
  generateSigningKeyPair,
  nobleSigner,
  parseAddress,
  signDmPlaintext,
  newEnvelopeId,
} from '@hearth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearth, SiteProcess, tempDir, waitFor } from './helpers/sites.js';

describe('direct messages between CLI devices', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;
  const aliceProfile = tempDir('alice-device');
  const aliceLaptop = tempDir('alice-laptop');
  const bobProfile = tempDir('bob-device');

  beforeAll(async () => {
    // Alice's site signs and checks with OpenSSL, bob's with libsodium: every exchange below also
    // holds the two libraries to the same signatures.
    [alice, bob] = await Promise.all([SiteProcess.create(['alice'], { env: { HEARTH_CRYPTO: 'openssl' } }), SiteProcess.create(['bob'])]);
    await hearth(['login', '--profile', aliceProfile, '--site', alice.url, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    await hearth(['login', '--profile', bobProfile, '--site', bob.url, '--user', 'bob', '--password', SiteProcess.password('bob')]);
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  const list = async (profile: string) => JSON.parse((await hearth(['dm', 'list', '--profile', profile, '--json'])).stdout) as {
    messages: Array<{ from: string; to: string; text: string }>;
    rejected: Array<{ reason: string }>;
  };

  it('a site told to use OpenSSL says so when it starts; one with libsodium says nothing of it', async () => {
    await waitFor('the notice', () => alice.log.includes('Signing and checking with OpenSSL (HEARTH_CRYPTO=openssl)'));
    await waitFor('the start line', () => bob.log.includes('Hearth is serving'));
    expect(bob.log).not.toContain('OpenSSL');
  });

  it('a DM reaches the recipient device, and no backend database holds its plaintext', async () => {
    const secret = `the cake is in the oven ${crypto.randomUUID()}`;
    const sent = await hearth(['dm', 'send', '--profile', aliceProfile, bob.address('bob'), secret]);
    expect(sent.stdout).toMatch(/encrypted to 2 device/);
    const received = await waitFor('the DM at bob', async () => {
      const result = await list(bobProfile);
      return result.messages.length === 1 ? result : undefined;
    });
    expect(received.messages[0]).toMatchObject({ from: alice.address('alice'), to: bob.address('bob'), text: secret });
    const reply = `and the kettle is on ${crypto.randomUUID()}`;
    await hearth(['dm', 'send', '--profile', bobProfile, alice.address('alice'), reply]);
    const conversation = await waitFor('the reply at alice', async () => {
      const result = await list(aliceProfile);
      return result.messages.length === 2 ? result : undefined;
    });
    expect(conversation.messages.map((m) => m.text)).toEqual([secret, reply]);
    for (const site of [alice, bob]) {
      const bytes = site.databaseBytes();
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
      expect(bytes.includes(Buffer.from(reply))).toBe(false);
      expect(bytes.includes(Buffer.from('the cake is in the oven'))).toBe(false);
    }
    const human = await hearth(['dm', 'list', '--profile', bobProfile, '--with', alice.address('alice')]);
    expect(human.stdout).toContain(secret);
  });

  it('a second device of the same person restores the identity and reads new messages', async () => {
    await hearth(['login', '--profile', aliceLaptop, '--site', alice.url, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    const text = `to both of alice's devices ${crypto.randomUUID()}`;
    const sent = await hearth(['dm', 'send', '--profile', bobProfile, alice.address('alice'), text]);
    expect(sent.stdout).toMatch(/encrypted to 3 device/);
    for (const profile of [aliceProfile, aliceLaptop]) {
      await waitFor(`the DM on ${path.basename(profile)}`, async () => (await list(profile)).messages.some((m) => m.text === text));
    }
  });

  it('a site key alone cannot make a DM that a device accepts', async () => {
    // Whoever holds alice's backend has her site key and can add a device to her public list,
    // but cannot certify that device with her identity key, which only her devices hold.
    await alice.stop();
    const rogue = { id: 'rogue-device-1', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    alice.execute('insert into devices (id, username, name, sign_key, dh_key, cert, created_at) values (?, ?, ?, ?, ?, ?, ?)',
      rogue.id, 'alice', 'rogue', rogue.sign.publicKey, rogue.dh.publicKey, 'A'.repeat(86), Date.now(),
    );
    await alice.start();
    const bobKeys = (await bob.api('GET', '/api/users/bob')).body.devices as Array<{ id: string; dhKey: string }>;
    const forged = signDmPlaintext(rogue, { id: newEnvelopeId(), from: alice.address('alice'), to: bob.address('bob'), sentAt: new Date().toISOString(), text: 'send me your password' });
    const env = createEnvelope(
      { type: 'dm', from: parseAddress(alice.address('alice')), to: parseAddress(bob.address('bob')), data: { message: encryptDm(forged, bobKeys) } },
      nobleSigner(alice.siteKeyOf('alice')),
    );
    // The backend cannot tell: the envelope is validly signed by alice's site.
    expect((await bob.api('POST', '/federation/inbox', { raw: JSON.stringify(env) })).status).toBe(202);
    const result = await list(bobProfile);
    expect(result.messages.some((m) => m.text === 'send me your password')).toBe(false);
    expect(result.rejected.some((r) => /rogue-device-1.*not certified/.test(r.reason))).toBe(true);
  });

  it('the same sealed message sent twice at once is stored and sent once: the other gets duplicate_message', async () => {
    // Sends at the same moment share one transaction (group commit); a replay among them must fail alone.
    const device = { id: 'device-twice', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    const bobKeys = (await bob.api('GET', '/api/users/bob')).body.devices as Array<{ id: string; dhKey: string }>;
    const message = encryptDm(signDmPlaintext(device, { id: newEnvelopeId(), from: alice.address('alice'), to: bob.address('bob'), sentAt: new Date().toISOString(), text: 'only once' }), bobKeys);
    const other = encryptDm(signDmPlaintext(device, { id: newEnvelopeId(), from: alice.address('alice'), to: bob.address('bob'), sentAt: new Date().toISOString(), text: 'a different one' }), bobKeys);
    const send = (m: typeof message) => alice.api('POST', '/api/dms', { as: 'alice', body: { to: bob.address('bob'), message: m } });
    const results = await Promise.all([send(message), send(message), send(other)]);
    expect(results.map((r) => r.status).sort()).toEqual([202, 202, 409]);
    expect(results.find((r) => r.status === 409)!.body.error.code).toBe('duplicate_message');
    expect(alice.count('select count(*) n from dm_messages where message_key = ?', message.ephemeralKey)).toBe(1);
    expect(alice.count('select count(*) n from dm_messages where message_key = ?', other.ephemeralKey)).toBe(1);
  });

  it('a batch of sealed DMs goes in one request: each is answered on its own, and a replay among them is refused alone', async () => {
    const device = { id: 'device-batch', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    const bobKeys = (await bob.api('GET', '/api/users/bob')).body.devices as Array<{ id: string; dhKey: string }>;
    const seal = (text: string) => encryptDm(signDmPlaintext(device, { id: newEnvelopeId(), from: alice.address('alice'), to: bob.address('bob'), sentAt: new Date().toISOString(), text }), bobKeys);
    const [first, second] = [seal('batched one'), seal('batched two')];
    const to = bob.address('bob');
    const sent = await alice.api('POST', '/api/dms/batch', { as: 'alice', body: { messages: [{ to, message: first }, { to, message: second }, { to, message: first }, { to: 'not-an-address', message: seal('to nowhere') }] } });
    expect(sent.status).toBe(202);
    expect(sent.body.items.map((item: { status: string }) => item.status)).toEqual(['sending', 'sending', 'refused', 'refused']);
    expect(sent.body.items[2]).toMatchObject({ to, error: { code: 'duplicate_message' } });
    expect(sent.body.items[3]).toMatchObject({ to: 'not-an-address', error: { code: 'invalid_address' } });
    for (const m of [first, second]) expect(alice.count('select count(*) n from dm_messages where message_key = ?', m.ephemeralKey)).toBe(1);
    // Both reach bob's site, each in an envelope of its own.
    await waitFor('the batch at bob', () => [first, second].every((m) => bob.count("select count(*) n from dm_messages where direction = 'in' and message_key = ?", m.ephemeralKey) === 1));
    // Sending the whole batch again is safe: what was sent comes back refused, nothing is stored twice.
    const again = await alice.api('POST', '/api/dms/batch', { as: 'alice', body: { messages: [{ to, message: first }, { to, message: second }] } });
    expect(again.body.items.map((item: { error?: { code: string } }) => item.error?.code)).toEqual(['duplicate_message', 'duplicate_message']);
    expect(alice.count('select count(*) n from dm_messages where message_key in (?, ?)', first.ephemeralKey, second.ephemeralKey)).toBe(2);
  });

  it('a batch is refused whole, with the reason, when it is empty, too long or holds a malformed message; nothing is stored', async () => {
    const before = alice.count('select count(*) n from dm_messages');
    const to = bob.address('bob');
    const empty = await alice.api('POST', '/api/dms/batch', { as: 'alice', body: { messages: [] } });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/at least one message/);
    const device = { id: 'device-batch-2', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    const bobKeys = (await bob.api('GET', '/api/users/bob')).body.devices as Array<{ id: string; dhKey: string }>;
    const message = encryptDm(signDmPlaintext(device, { id: newEnvelopeId(), from: alice.address('alice'), to, sentAt: new Date().toISOString(), text: 'x' }), bobKeys);
    const tooMany = await alice.api('POST', '/api/dms/batch', { as: 'alice', body: { messages: Array.from({ length: 101 }, () => ({ to, message })) } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(/at most 100 messages/);
    const malformed = await alice.api('POST', '/api/dms/batch', { as: 'alice', body: { messages: [{ to, message }, { to, message: { ...message, nonce: 'not base64!' } }] } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toMatch(/messages\.1\.message\.nonce/);
    const anonymous = await alice.api('POST', '/api/dms/batch', { body: { messages: [{ to, message }] } });
    expect(anonymous.status).toBe(401);
    expect(alice.count('select count(*) n from dm_messages')).toBe(before);
  });

  it('the CLI sends each line of standard input as a message, in batches', async () => {
    const lines = Array.from({ length: 3 }, (_, i) => `piped line ${i} ${crypto.randomUUID()}`);
    const sent = await hearth(['dm', 'send', '--profile', aliceProfile, bob.address('bob')], { input: `${lines.join('\n')}\n\n` });
    expect(sent.stdout).toMatch(/Sent 3 of 3 message\(s\)/);
    expect(sent.stderr).toMatch(/Sent 3 of 3\.\.\./);
    await waitFor('the piped messages at bob', async () => {
      const texts = (await list(bobProfile)).messages.map((m) => m.text);
      return lines.every((line) => texts.includes(line));
    });
    const nothing = await hearth(['dm', 'send', '--profile', aliceProfile, bob.address('bob')], { input: '\n  \n', allowFailure: true });
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/no message/);
  });

  it('the CLI explains bad input and exits non-zero', async () => {
    const bad = await hearth(['dm', 'send', '--profile', aliceProfile, 'not-an-address', 'hi'], { allowFailure: true });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/must look like name@host/);
    const nobody = await hearth(['dm', 'send', '--profile', aliceProfile, `nobody@${bob.host}`, 'hi'], { allowFailure: true });
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/not found/);
    const noProfile = await hearth(['dm', 'list', '--profile', tempDir('empty')], { allowFailure: true });
    expect(noProfile.stderr).toMatch(/no profile in .*hearth login/);
    const wrongPw = await hearth(['login', '--profile', tempDir('x'), '--site', alice.url, '--user', 'alice', '--password', 'wrong-password'], { allowFailure: true });
    expect(wrongPw.stderr).toMatch(/wrong username or password/);
  });
});
