import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VaultServerFrameSchema } from '@hearth/protocol';
import { dmFrame } from './hub.js';

describe('a queued DM as the vault link sends it', () => {
  const message = { alg: 'x25519-hkdf-sha256-xchacha20poly1305', ephemeralKey: 'A'.repeat(43), nonce: 'B'.repeat(32), ciphertext: 'C'.repeat(120), recipients: [{ device: 'd1', nonce: 'D'.repeat(32), wrappedKey: 'E'.repeat(64) }] };

  it('is the frame the vault expects, whatever the id and peer hold (quotes, escapes, any Unicode)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.string({ maxLength: 64, unit: 'binary' }), fc.constantFrom('in' as const, 'out' as const), fc.string({ maxLength: 120, unit: 'binary' }), fc.integer({ min: 0, max: 4_102_444_800_000 }), (seq, id, direction, peer, createdAt) => {
        const text = dmFrame(seq, { envelope_id: id, direction, peer, ciphertext: JSON.stringify(message), created_at: createdAt });
        const parsed = VaultServerFrameSchema.parse(JSON.parse(text));
        expect(parsed).toEqual({ t: 'dm', seq, id, direction, peer, message, createdAt: new Date(createdAt).toISOString() });
      }),
      { numRuns: 300 },
    );
  });

  it('takes the creation time as the database gives it (a number on SQLite, text from PostgreSQL int8)', () => {
    const row = { envelope_id: 'e1', direction: 'in' as const, peer: 'bob@b.example', ciphertext: JSON.stringify(message) };
    expect(JSON.parse(dmFrame(1, { ...row, created_at: '1795000000123' })).createdAt).toBe(new Date(1_795_000_000_123).toISOString());
    expect(JSON.parse(dmFrame(1, { ...row, created_at: 1_795_000_000_123 })).createdAt).toBe(new Date(1_795_000_000_123).toISOString());
  });
});
