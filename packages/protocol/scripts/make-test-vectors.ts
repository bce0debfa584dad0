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
void canonicalize;
console.log(`wrote test vectors to ${out}`);
