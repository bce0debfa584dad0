import { describe, expect, it } from 'vitest';
import { createEnvelope, parseEnvelopeText } from './envelope.js';
import { generateSigningKeyPair, nobleSigner, nobleX25519 } from './keys.js';
import { LIMITS } from './limits.js';
import { nodeX25519 } from './node-crypto.js';
import {
  deriveRelayKeyPair,
  openFetchAnswer,
  openFetchRequest,
  openForSite,
  sealFetchAnswer,
  sealFetchRequest,
  sealForSite,
  signRelayAdvert,
  verifyRelayAdvert,
} from './relay.js';
import { fromUtf8, toBase64url, fromBase64url } from './encoding.js';

const serverKey = generateSigningKeyPair();
const site = deriveRelayKeyPair(serverKey.secretKey);

describe('relay sealing', () => {
  it('derives the same relay key from the same server key, in Node and in pure JS, and another for another key', () => {
    expect(deriveRelayKeyPair(serverKey.secretKey, nodeX25519)).toEqual(site);
    expect(deriveRelayKeyPair(generateSigningKeyPair().secretKey).publicKey).not.toBe(site.publicKey);
  });

  it('opens for the destination only, and refuses a ciphertext altered on the way', () => {
    const json = JSON.stringify({ hello: 'bob' });
    const sealed = sealForSite([json, json], site.publicKey, nodeX25519);
    expect(JSON.stringify(sealed)).not.toContain('bob');
    expect(fromUtf8(openForSite(sealed, site, nobleX25519))).toBe(`[${json},${json}]`);
    expect(() => sealForSite([], site.publicKey)).toThrow(/1 to/);
    expect(() => sealForSite(Array(LIMITS.relayBatch + 1).fill('{}'), site.publicKey)).toThrow(/1 to/);
    const other = deriveRelayKeyPair(generateSigningKeyPair().secretKey);
    expect(() => openForSite(sealed, other)).toThrow(/decrypted/);
    const bytes = fromBase64url(sealed.ciphertext);
    bytes[3]! ^= 1;
    expect(() => openForSite({ ...sealed, ciphertext: toBase64url(bytes) }, site)).toThrow(/tampered/);
  });

  it('a relay envelope holding the largest envelope fits its own limit, and is refused past it', () => {
    const signer = nobleSigner(generateSigningKeyPair());
    const from = { host: 'a.example', port: 443, username: 'alice' };
    const inner = JSON.stringify({ pad: 'x'.repeat(LIMITS.envelopeBytes + 1024 - 14) }); // the largest batch of one
    expect(() => sealForSite([inner, '{}'], site.publicKey)).toThrow(/at most/);
    const sealed = sealForSite([inner], site.publicKey);
    const env = createEnvelope({ type: 'relay', from, to: { host: 'c.example', port: 443, username: 'carol' }, data: { next: { host: 'b.example', port: 443 }, hops: 1, sealed } }, signer);
    const text = JSON.stringify(env);
    expect(parseEnvelopeText(text).type).toBe('relay');
    expect(() => parseEnvelopeText(text.replace('"hops":1', `"hops":1,"pad":"${'y'.repeat(LIMITS.relayEnvelopeBytes)}"`))).toThrow(/limit/);
    expect(() => parseEnvelopeText(JSON.stringify({ ...env, data: { ...env.data, hops: 3 } }))).toThrow(/hops/);
  });

  it('a fetch goes sealed to the site and its answer sealed to the asker', () => {
    const { sealed, replyKeys } = sealFetchRequest({ path: '/api/users/alice/posts' }, site.publicKey, nodeX25519);
    expect(JSON.stringify(sealed)).not.toContain('alice');
    const request = openFetchRequest(sealed, site);
    expect(request.path).toBe('/api/users/alice/posts');
    const answer = sealFetchAnswer({ status: 200, body: '{"posts":[]}', etag: 'W/"1"' }, request.replyKey);
    expect(openFetchAnswer(answer, replyKeys)).toEqual({ t: 'hearth-relay-fetch-v1 answer', status: 200, body: '{"posts":[]}', etag: 'W/"1"' });
    expect(() => openFetchAnswer(answer, deriveRelayKeyPair(generateSigningKeyPair().secretKey))).toThrow();
  });

  it('a relay advert verifies with the server key and fails once changed', () => {
    const signer = nobleSigner(serverKey);
    const advert = { site: { host: 'b.example', port: 443 }, relayKey: site.publicKey, relays: ['carol@c.example'] };
    const sig = signRelayAdvert(advert, signer);
    expect(verifyRelayAdvert(advert, sig, serverKey.publicKey)).toBe(true);
    expect(verifyRelayAdvert({ ...advert, relays: ['mallory@m.example'] }, sig, serverKey.publicKey)).toBe(false);
    expect(verifyRelayAdvert(advert, sig, generateSigningKeyPair().publicKey)).toBe(false);
  });
});
