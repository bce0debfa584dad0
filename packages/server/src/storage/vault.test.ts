import { describe, expect, it } from 'vitest';
import { newPairingCode, normalizePairingCode } from './vault.js';

describe('pairing codes', () => {
  it('are 100 random bits in four groups of unambiguous base32', () => {
    const codes = new Set(Array.from({ length: 2000 }, newPairingCode));
    expect(codes.size).toBe(2000);
    for (const code of [...codes].slice(0, 50)) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
  });

  it('are accepted however they were typed', () => {
    const code = 'K7Q2M-XZKE4-DFFXW-6GF21';
    for (const typed of ['k7q2m-xzke4-dffxw-6gf21', 'K7Q2M XZKE4 DFFXW 6GF21', 'K7Q2MXZKE4DFFXW6GF21', 'K7Q2M-XZKE4-DFFXW-6GF2l', ' k7q2m-xzke4-dffxw-6gf2I ']) {
      expect(normalizePairingCode(typed)).toBe(code);
    }
    expect(normalizePairingCode('K7Q2M-XZKE4-DFFXW-6GF2O')).toBe('K7Q2M-XZKE4-DFFXW-6GF20');
    expect(normalizePairingCode('short')).toBe('SH0RT');
  });
});
