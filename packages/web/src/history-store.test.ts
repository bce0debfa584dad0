import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ListedDm } from '@hearth/protocol/dm';
import { asChunk, covered, KEYS_KEPT_MS, mergeChunks, newHistoryKey, openChunk, sealChunk, type HistoryChunk } from './history-store';

const dm = (n: number, from = 'alice@a.example'): ListedDm => ({ id: `m${n}`, from, to: 'bob@b.example', sentAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(), text: `message ${n}` });
const chunk = (from: number, to: number, extra: Partial<HistoryChunk> = {}): HistoryChunk => ({
  messages: Array.from({ length: to - from }, (_, i) => dm(from + i + 1)),
  rejected: [],
  site: { from, to },
  keys: [],
  ...extra,
});

describe('the stored history of a browser', () => {
  it('trusts the numbering only as far as the stretches join up from the start', () => {
    expect(covered([])).toBe(0);
    expect(covered([{ from: 0, to: 5 }, { from: 5, to: 9 }])).toBe(9);
    expect(covered([{ from: 5, to: 9 }, { from: 0, to: 5 }])).toBe(9);
    expect(covered([{ from: 0, to: 5 }, { from: 6, to: 9 }])).toBe(5); // a missing stretch: fetched again
    expect(covered([{ from: 0, to: 9 }, { from: 3, to: 4 }])).toBe(9);
    expect(covered([{ from: 2, to: 4 }])).toBe(0);
  });

  it('merges chunks into one deduplicated history, oldest first', () => {
    const merged = mergeChunks([chunk(0, 3), chunk(3, 5), chunk(2, 4)]);
    expect(merged.messages.map((m) => m.id)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(merged.siteSeq).toBe(5);
    const rejected = { id: 'e1', peer: 'mallory@m.example', reason: 'bad signature' };
    expect(mergeChunks([chunk(0, 1, { rejected: [rejected] }), chunk(1, 2, { rejected: [rejected] })]).rejected).toEqual([rejected]);
  });

  it('keeps the vault numbering of the vault written about last, and people\'s keys for an hour', () => {
    const now = Date.UTC(2026, 10, 29);
    const keys = { address: 'alice@a.example', identityKey: 'k', devices: [] };
    const merged = mergeChunks(
      [
        chunk(0, 1, { vault: { id: 'old-vault', from: 0, to: 50 }, keys: [{ address: 'alice@a.example', keys, at: now - KEYS_KEPT_MS - 1 }] }),
        chunk(1, 2, { vault: { id: 'new-vault', from: 0, to: 3 }, keys: [{ address: 'carol@c.example', keys, at: now - 1000 }] }),
        chunk(2, 3, { vault: { id: 'new-vault', from: 3, to: 7 } }),
      ],
      now,
    );
    expect(merged.vault).toEqual({ id: 'new-vault', seq: 7 });
    expect(merged.keys.map((k) => k.address)).toEqual(['carol@c.example']);
    expect(mergeChunks([chunk(0, 1)]).vault).toBeUndefined();
  });

  it('a history folded into one chunk is the same history', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 11 }), (sizes, dropped) => {
        const chunks: HistoryChunk[] = [];
        let at = 0;
        for (const size of sizes) chunks.push(chunk(at, (at += size)));
        const whole = mergeChunks(chunks);
        expect(mergeChunks([asChunk(whole)])).toEqual(whole);
        expect(whole.siteSeq).toBe(at);
        // Losing any chunk makes the history trusted only up to it, never past it.
        if (dropped < chunks.length) {
          const partial = mergeChunks(chunks.filter((_, i) => i !== dropped));
          expect(partial.siteSeq).toBe(chunks[dropped]!.site!.from);
        }
      }),
    );
  });

  it('is sealed under a key that cannot be read out, and opens only under the same key and login', async () => {
    const key = await newHistoryKey();
    await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow();
    const sealed = await sealChunk(key, 'site\nbob\ndevice1', chunk(0, 3));
    expect(new TextDecoder().decode(sealed.data)).not.toContain('message 1');
    expect(await openChunk(key, 'site\nbob\ndevice1', sealed)).toEqual(chunk(0, 3));
    expect(await openChunk(key, 'site\ncarol\ndevice1', sealed)).toBeUndefined();
    expect(await openChunk(await newHistoryKey(), 'site\nbob\ndevice1', sealed)).toBeUndefined();
    const tampered = new Uint8Array(sealed.data.slice(0));
    tampered[5]! ^= 1;
    expect(await openChunk(key, 'site\nbob\ndevice1', { iv: sealed.iv, data: tampered.buffer })).toBeUndefined();
  });
});
