/**
 * Writes test-vectors/*.json from fixed keys and fixed "randomness", so any implementation can
 * check its canonical JSON, signatures, device certificates, link proofs and DM decryption
 * against ours. Run: npx tsx packages/protocol/scripts/make-test-vectors.ts
 * The RFC 8785 cases carry their expected output from the RFC itself, not from our code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import {
  canonicalize,
  certifyDevice,
  createEnvelope,
  encryptDm,
  fingerprint,
  linkProofBytes,
  nobleSigner,
  signDmPlaintext,
  signingBytes,
  toBase64url,
  fromUtf8,
  formatAddress,
  parseAddress,
  sealBytes,
  signByDevice,
  signSiteKeyRotation,
  siteKeyRotationBytes,
  utf8,
  CALL_DOMAIN,
  VAULT_DOMAIN,
} from '../src/index.js';

const out = path.resolve(import.meta.dirname, '../test-vectors');
const fixed = (byte: number, n = 32) => new Uint8Array(n).fill(byte);
const signingKeys = (byte: number) => ({ secretKey: toBase64url(fixed(byte)), publicKey: toBase64url(ed25519.getPublicKey(fixed(byte))) });
const agreementKeys = (byte: number) => ({ secretKey: toBase64url(fixed(byte)), publicKey: toBase64url(x25519.getPublicKey(fixed(byte))) });
const write = (name: string, value: unknown) => fs.writeFileSync(path.join(out, name), JSON.stringify(value, null, 2) + '\n');

write('canonical-json.json', {
  description: 'RFC 8785 (JCS). input is JSON text; canonical is the exact expected output.',
  cases: [
    {
      name: 'RFC 8785 section 3.2.2 example',
      input: '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
      canonical: '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    },
    {
      name: 'RFC 8785 section 3.2.3 sorting by UTF-16 code units',
      input: '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
      canonical: '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    },
    { name: 'nesting and whitespace', input: '{ "b" : [ 1 , { "d":true, "c":null } ], "a" : "x" }', canonical: '{"a":"x","b":[1,{"c":null,"d":true}]}' },
    { name: 'integers and negative zero', input: '[0, -0, 1.0, -1.5e3, 100000000000000000000, 1e21]', canonical: '[0,0,1,-1500,100000000000000000000,1e+21]' },
  ],
});

const site = signingKeys(1);
const envelope = createEnvelope(
  {
    type: 'post.create',
    id: '01936f6e-8a1b-7c2d-9e3f-405162738495',
    ts: '2026-11-25T12:00:00.000Z',
    from: { username: 'alice', host: 'alice.example', port: 443 },
    to: { username: 'bob', host: 'bob.example', port: 8443 },
    data: { post: { id: 'p1', text: 'Hello, Bob! ☕', createdAt: '2026-11-25T11:59:59.000Z' } },
  },
  nobleSigner(site),
);
write('envelope-signature.json', {
  description: 'Ed25519 over the UTF-8 bytes of the canonical JSON of the envelope without "sig". Keys are raw 32 bytes in base64url (secret = seed).',
  siteKey: site,
  signingInput: fromUtf8(signingBytes(envelope)),
  envelope,
});

const identity = signingKeys(2);
const device = { id: 'bob-phone', sign: signingKeys(3), dh: agreementKeys(4) };
const senderDevice = { id: 'alice-laptop', sign: signingKeys(5), dh: agreementKeys(6) };
const senderIdentity = signingKeys(7);
const record = certifyDevice(identity, 'bob@bob.example:8443', { id: device.id, signKey: device.sign.publicKey, dhKey: device.dh.publicKey });
const senderRecord = certifyDevice(senderIdentity, 'alice@alice.example', { id: senderDevice.id, signKey: senderDevice.sign.publicKey, dhKey: senderDevice.dh.publicKey });
const plaintext = signDmPlaintext(senderDevice, { id: 'm1', from: 'alice@alice.example', to: 'bob@bob.example:8443', sentAt: '2026-11-25T12:00:00.000Z', text: 'Meet at the café at 5?' });
let counter = 0x10;
const random = (n: number) => fixed(counter++, n);
const message = encryptDm(plaintext, [record, senderRecord], random);
write('dm.json', {
  description:
    'A DM from alice\'s device to bob\'s device and alice\'s own. random(n) returned n bytes of 0x10, 0x11, ... in call order: content key, body nonce, ephemeral secret, then one wrap nonce per recipient.',
  recipient: { address: 'bob@bob.example:8443', identityKey: identity, device, record },
  sender: { address: 'alice@alice.example', identityKey: senderIdentity, device: senderDevice, record: senderRecord },
  plaintext,
  message,
  fingerprints: { bob: fingerprint('bob@bob.example:8443', identity.publicKey), alice: fingerprint('alice@alice.example', senderIdentity.publicKey) },
});

const serverA = signingKeys(8);
const serverB = signingKeys(9);
const clientSite = { host: 'alice.example', port: 443 };
const serverSite = { host: 'bob.example', port: 8443 };
write('link-handshake.json', {
  description: 'Link proofs: each side signs canonical {t, role, client, server, nonce} with its server key, over the other side\'s nonce.',
  clientKey: serverA,
  serverKey: serverB,
  client: clientSite,
  server: serverSite,
  clientNonce: 'Y2xpZW50LW5vbmNlLTAwMDAwMDAwMDAw',
  serverNonce: 'c2VydmVyLW5vbmNlLTAwMDAwMDAwMDAw',
  serverProofInput: fromUtf8(linkProofBytes('server', clientSite, serverSite, 'Y2xpZW50LW5vbmNlLTAwMDAwMDAwMDAw')),
  serverProof: toBase64url(nobleSigner(serverB).sign(linkProofBytes('server', clientSite, serverSite, 'Y2xpZW50LW5vbmNlLTAwMDAwMDAwMDAw'))),
  clientProofInput: fromUtf8(linkProofBytes('client', clientSite, serverSite, 'c2VydmVyLW5vbmNlLTAwMDAwMDAwMDAw')),
  clientProof: toBase64url(nobleSigner(serverA).sign(linkProofBytes('client', clientSite, serverSite, 'c2VydmVyLW5vbmNlLTAwMDAwMDAwMDAw'))),
});
// Vault requests and call signals: the DM message shape with their own domain labels (§7, §8).
const vaultDevice = { id: 'alice-vault', sign: signingKeys(12), dh: agreementKeys(13) };
counter = 0x30;
const vaultSigned = signByDevice(senderDevice, { t: 'hearth-vault-v1' as const, rid: 'r1', fromDevice: senderDevice.id, toDevice: vaultDevice.id, sentAt: '2026-11-25T12:00:00.000Z', body: { kind: 'history', after: 0, limit: 50 } });
write('vault-sealed.json', {
  description:
    'A history request from alice\'s laptop to her home vault: canonical JSON of the signed request, sealed like a DM (section 6) with body aad "hearth-vault-v1 body" and wrap info "hearth-vault-v1 wrap". random(n) returned n bytes of 0x30, 0x31, ... in call order.',
  sender: senderDevice,
  recipient: vaultDevice,
  signed: vaultSigned,
  sealed: sealBytes(utf8(canonicalize(vaultSigned)), [{ id: vaultDevice.id, dhKey: vaultDevice.dh.publicKey }], VAULT_DOMAIN, random),
});
counter = 0x40;
const callSigned = signByDevice(senderDevice, { t: 'hearth-call-v1' as const, callId: 'c1', kind: 'offer' as const, from: 'alice@alice.example', to: 'bob@bob.example:8443', sdp: 'v=0\r\n', video: true, fromDevice: senderDevice.id, sentAt: '2026-11-25T12:00:00.000Z' });
write('call-signal.json', {
  description:
    'A ring (offer) from alice\'s laptop to bob\'s phone: canonical JSON of the signed signal, sealed like a DM (section 6) with body aad "hearth-call-v1 body" and wrap info "hearth-call-v1 wrap". random(n) returned n bytes of 0x40, 0x41, ... in call order.',
  sender: senderDevice,
  recipient: device,
  signed: callSigned,
  sealed: sealBytes(utf8(canonicalize(callSigned)), [{ id: device.id, dhKey: device.dh.publicKey }], CALL_DOMAIN, random),
});

// A site key rotation notice (section 3): the old key vouches for the new one.
const oldSiteKey = signingKeys(10);
const newSiteKey = signingKeys(11);
const rotationFields = { address: 'alice@alice.example', key: newSiteKey.publicKey, at: '2026-11-26T08:00:00.000Z' };
write('key-rotation.json', {
  description: 'The profile of alice@alice.example after a rotation: siteKey is the new key, siteKeyRotation is signed by the old key over canonical {t, address, previous, key, at}.',
  oldKey: oldSiteKey,
  newKey: newSiteKey,
  signingInput: fromUtf8(siteKeyRotationBytes({ ...rotationFields, previous: oldSiteKey.publicKey })),
  profile: { address: rotationFields.address, siteKey: newSiteKey.publicKey, siteKeyRotation: signSiteKeyRotation(nobleSigner(oldSiteKey), rotationFields) },
});

// Addresses as people type them (section 1): the parsed object, or invalid_address.
const addressCase = (input: string) => {
  try {
    const address = parseAddress(input);
    return { input, address, canonical: formatAddress(address) };
  } catch {
    return { input, error: 'invalid_address' };
  }
};
write('addresses.json', {
  description: 'Address parsing: ASCII folded to lower case, one leading @ allowed, :443 omitted from the canonical form, IPv4 only as four decimal octets without leading zeros, IPv6 bracketed and written as the WHATWG URL parser serializes it (RFC 5952).',
  cases: [
    'alice@example.com', '@Alice@Example.COM', 'bob@example.com:443', 'bob@example.com:8443', 'carol@127.0.0.1:4001', 'dave@[::1]:4000',
    'dave@[2001:DB8:0:0::1]', 'erin@xn--bcher-kva.example', 'a_b_9@host-1.example',
    'alice@bücher.example', 'alice@example.com:0', 'alice@example.com:65536', 'alice@example.com:', 'al.ice@example.com', 'alice@@example.com',
    'alice@01.2.3.4', 'alice@1.2.3', 'alice@0x7f.0.0.1', 'alice@256.1.1.1', 'alice@::1', 'alice@[1.2.3.4]', 'alice@-example.com', 'alice@example.123',
    'a'.repeat(33) + '@example.com', 'alice', '@example.com', 'alice@exa mple.com',
  ].map(addressCase),
});

// Envelopes a receiver must refuse, each with the code it must give (section 4). Built from the
// signed vector above (site key = siteKey of envelope-signature.json); "now" is the receiver's clock.
const good = JSON.stringify(envelope);
const resign = (fields: Record<string, unknown>) => {
  const { sig: _sig, ...unsigned } = { ...envelope, ...fields };
  return JSON.stringify({ ...unsigned, sig: toBase64url(nobleSigner(site).sign(utf8(canonicalize(unsigned)))) });
};
write('negative-envelopes.json', {
  description:
    'Each text is refused with code, in the check order of section 4. Cases with "signedBy" carry a valid signature by that key over the modified envelope, so only the named check fails. now is the receiver\'s clock for the freshness checks.',
  siteKey: site.publicKey,
  now: '2026-11-25T12:05:00.000Z',
  cases: [
    { name: 'a repeated key', text: good.replace('"type":"post.create"', '"type":"post.create","type":"post.create"'), code: 'invalid_json' },
    { name: 'a lone surrogate in a string', text: good.replace('Hello, Bob!', 'Hello, \\ud800Bob!'), code: 'invalid_json' },
    { name: 'not JSON', text: good.slice(0, -1), code: 'invalid_json' },
    { name: 'nested deeper than 16', text: good.replace('"data":{', '"data":{"x":' + '['.repeat(20) + ']'.repeat(20) + ','), code: 'too_deep' },
    { name: 'an extra member', text: resign({ extra: 1 }), code: 'invalid_envelope' },
    { name: 'ts without milliseconds', text: resign({ ts: '2026-11-25T12:00:00Z' }), code: 'invalid_envelope' },
    { name: 'ts with an offset', text: resign({ ts: '2026-11-25T13:00:00.000+01:00' }), code: 'invalid_envelope' },
    { name: 'id not a UUIDv7', text: resign({ id: '01936f6e-8a1b-4c2d-9e3f-405162738495' }), code: 'invalid_envelope' },
    { name: 'version 2', text: resign({ v: 2 }), code: 'unsupported_version' },
    { name: 'unknown type', text: resign({ type: 'post.explode' }), code: 'unknown_type' },
    { name: 'upper case in a host', text: resign({ to: { host: 'Bob.example', port: 8443, username: 'bob' } }), code: 'invalid_address' },
    { name: 'IPv6 not in canonical form', text: resign({ to: { host: '[::0001]', port: 8443, username: 'bob' } }), code: 'invalid_address' },
    { name: 'createdAt after ts', text: resign({ data: { post: { id: 'p1', text: 'from the future', createdAt: '2099-01-01T00:00:00.000Z' } } }), code: 'invalid_data' },
    { name: 'post text over 5,000 characters', text: resign({ data: { post: { id: 'p1', text: 'x'.repeat(5001), createdAt: '2026-11-25T11:59:59.000Z' } } }), code: 'invalid_data' },
    { name: 'ts 11 minutes after now', text: resign({ ts: '2026-11-25T12:16:00.001Z' }), code: 'clock_skew' },
    { name: 'ts over 14 days before now', text: resign({ ts: '2026-11-11T12:04:59.999Z', data: { post: { id: 'p1', text: 'Hello, Bob! ☕', createdAt: '2026-11-11T12:00:00.000Z' } } }), code: 'expired' },
    { name: 'one character of data changed after signing', text: good.replace('Hello, Bob!', 'Hello, bob!'), code: 'bad_signature' },
    { name: 'signed by another key', text: JSON.stringify({ ...envelope, sig: toBase64url(nobleSigner(signingKeys(99)).sign(signingBytes(envelope))) }), code: 'bad_signature' },
  ],
  badKeys: [
    { name: 'the identity point (small order)', key: toBase64url(Uint8Array.from([1, ...new Array(31).fill(0)])), code: 'bad_sender_key' },
    { name: 'y = 2^255 - 1 (non-canonical encoding)', key: toBase64url(Uint8Array.from([...new Array(31).fill(0xff), 0x7f])), code: 'bad_sender_key' },
    { name: 'a point of order 8', key: toBase64url(Uint8Array.from([0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a])), code: 'bad_sender_key' },
  ],
});
void canonicalize;
console.log(`wrote test vectors to ${out}`);
