import { certifyDevice, generateAgreementKeyPair, generateSigningKeyPair, nobleVerify, signDmPlaintext, type DeviceRecord, type DeviceSecrets, type SigningKeyPair } from '@hearth/protocol';
import { describe, expect, it } from 'vitest';
import { LookupUnavailable, SenderCheck, type ProfileKeys } from './sender-check.js';

const ME = 'alice@home.example';
const BOB = 'bob@far.example';

function person(address: string, deviceCount = 1) {
  const identity = generateSigningKeyPair();
  const devices: DeviceSecrets[] = Array.from({ length: deviceCount }, (_, i) => ({ id: `${address.split('@')[0]}-dev-${i}`, sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() }));
  const records = devices.map((d) => certifyDevice(identity, address, { id: d.id, signKey: d.sign.publicKey, dhKey: d.dh.publicKey }));
  return { address, identity, devices, records };
}

/** The site's lookup, as a table the test controls (this is pure logic: no site involved). */
function fakeLookup(table: Map<string, ProfileKeys>) {
  const calls: string[] = [];
  const lookup = async (address: string) => {
    calls.push(address);
    const profile = table.get(address);
    if (!profile) throw new LookupUnavailable(`no answer about ${address}`);
    return structuredClone(profile);
  };
  return { lookup, calls };
}

function memoryPins() {
  const pins = new Map<string, string>();
  return { get: (a: string) => pins.get(a), set: (a: string, k: string) => void pins.set(a, k), pins };
}

const dmFrom = (sender: DeviceSecrets, from: string, to: string, text = 'hello') => signDmPlaintext(sender, { id: crypto.randomUUID(), from, to, sentAt: new Date().toISOString(), text });
const profile = (p: { address: string; identity: SigningKeyPair; records: DeviceRecord[] }): ProfileKeys => ({ address: p.address, identityKey: p.identity.publicKey, devices: p.records });

describe('the vault checks who sent each DM', () => {
  it('accepts a certified device of the sender, pins their identity key, and asks the site once', async () => {
    const me = person(ME);
    const bob = person(BOB);
    const { lookup, calls } = fakeLookup(new Map([[BOB, profile(bob)]]));
    const pins = memoryPins();
    const check = new SenderCheck({ address: ME, identityKey: me.identity.publicKey }, lookup, pins, nobleVerify);
    expect(await check.check(dmFrom(bob.devices[0]!, BOB, ME), { from: BOB, to: ME })).toBeNull();
    expect(await check.check(dmFrom(bob.devices[0]!, BOB, ME), { from: BOB, to: ME })).toBeNull();
    expect(calls).toEqual([BOB]);
    expect(pins.pins.get(BOB)).toBe(bob.identity.publicKey);
  });

  it('refuses a device the identity key never certified, a wrong signature, and a misaddressed message', async () => {
    const me = person(ME);
    const bob = person(BOB);
    const rogue: DeviceSecrets = { id: 'rogue', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    // The site lists the rogue device (a site key can do that), with a made-up certificate.
    const listed = { ...profile(bob), devices: [...bob.records, { id: 'rogue', signKey: rogue.sign.publicKey, dhKey: rogue.dh.publicKey, cert: 'A'.repeat(86) }] };
    const check = new SenderCheck({ address: ME, identityKey: me.identity.publicKey }, fakeLookup(new Map([[BOB, listed]])).lookup, memoryPins(), nobleVerify);
    expect(await check.check(dmFrom(rogue, BOB, ME), { from: BOB, to: ME })).toMatch(/device rogue, which .* has not certified/);
    const tampered = { ...dmFrom(bob.devices[0]!, BOB, ME), text: 'changed after signing' };
    expect(await check.check(tampered, { from: BOB, to: ME })).toMatch(/signature that does not verify/);
    expect(await check.check(dmFrom(bob.devices[0]!, BOB, 'carol@x.example'), { from: BOB, to: ME })).toMatch(/addressed to carol/);
    expect(await check.check(dmFrom(bob.devices[0]!, BOB, ME), { from: 'mallory@x.example', to: ME })).toMatch(/claims to be from bob/);
  });

  it("refuses a changed identity key once pinned, and trusts only its own identity key for the owner's devices", async () => {
    const me = person(ME);
    const bob = person(BOB);
    const pins = memoryPins();
    pins.set(BOB, generateSigningKeyPair().publicKey);
    // The site claims another identity key for me: the vault ignores it and uses the one it holds.
    const impostor = person(ME);
    const table = new Map([[BOB, profile(bob)], [ME, profile(impostor)]]);
    const check = new SenderCheck({ address: ME, identityKey: me.identity.publicKey }, fakeLookup(table).lookup, pins, nobleVerify);
    expect(await check.check(dmFrom(bob.devices[0]!, BOB, ME), { from: BOB, to: ME })).toMatch(/identity key of bob@far.example changed/);
    expect(await check.check(dmFrom(impostor.devices[0]!, ME, BOB), { from: ME, to: BOB })).toMatch(/has not certified/);
  });

  it('looks again once when a message names a device it has not seen (a new device of the sender)', async () => {
    const me = person(ME);
    const bob = person(BOB, 2);
    const table = new Map([[BOB, { ...profile(bob), devices: [bob.records[0]!] }]]);
    const { lookup, calls } = fakeLookup(table);
    const check = new SenderCheck({ address: ME, identityKey: me.identity.publicKey }, lookup, memoryPins(), nobleVerify);
    expect(await check.check(dmFrom(bob.devices[0]!, BOB, ME), { from: BOB, to: ME })).toBeNull();
    table.set(BOB, profile(bob)); // bob enrolled his second device since
    expect(await check.check(dmFrom(bob.devices[1]!, BOB, ME), { from: BOB, to: ME })).toBeNull();
    expect(calls).toEqual([BOB, BOB]);
  });

  it('lets a lookup that failed for now propagate, so the message is retried rather than dropped', async () => {
    const me = person(ME);
    const bob = person(BOB);
    const check = new SenderCheck({ address: ME, identityKey: me.identity.publicKey }, fakeLookup(new Map()).lookup, memoryPins(), nobleVerify);
    await expect(check.check(dmFrom(bob.devices[0]!, BOB, ME), { from: BOB, to: ME })).rejects.toBeInstanceOf(LookupUnavailable);
  });

  it('takes a signature verdict made elsewhere only when it was made with the key the check settles on', async () => {
    const me = person(ME);
    const bob = person(BOB);
    const verified: string[] = [];
    const counting = (message: Uint8Array, signature: Uint8Array, key: string) => (verified.push(key), nobleVerify(message, signature, key));
    const check = new SenderCheck({ address: ME, identityKey: me.identity.publicKey }, fakeLookup(new Map([[BOB, profile(bob)]])).lookup, memoryPins(), counting);
    const genuine = dmFrom(bob.devices[0]!, BOB, ME);
    const bobKey = bob.devices[0]!.sign.publicKey;
    expect(await check.check(genuine, { from: BOB, to: ME })).toBeNull(); // looks bob up (his device certificate is checked)
    expect(check.knownSignKeys(BOB)?.get(bob.devices[0]!.id)).toBe(bobKey);
    verified.length = 0;
    // A verdict under bob's certified key is taken as it is, either way.
    expect(await check.check(genuine, { from: BOB, to: ME }, { signKey: bobKey, ok: true })).toBeNull();
    expect(await check.check(genuine, { from: BOB, to: ME }, { signKey: bobKey, ok: false })).toMatch(/does not verify/);
    expect(verified).toEqual([]);
    // A verdict under any other key counts for nothing: the signature is checked here.
    const tampered = { ...genuine, text: 'changed after signing' };
    expect(await check.check(tampered, { from: BOB, to: ME }, { signKey: generateSigningKeyPair().publicKey, ok: true })).toMatch(/does not verify/);
    expect(verified).toEqual([bobKey]);
    expect(check.knownSignKeys('carol@x.example')).toBeUndefined();
  });
});
