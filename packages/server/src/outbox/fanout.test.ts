import { parseAddress } from '@hearth/protocol';
import { describe, expect, it } from 'vitest';
import { firstPerSite } from './fanout.js';

describe('firstPerSite', () => {
  it('takes the first follower of each site, in order, and leaves the rest', () => {
    const followers = ['a@one.example', 'b@two.example', 'c@one.example', 'd@two.example:8443', 'e@two.example'].map(parseAddress);
    const { first, rest } = firstPerSite(followers);
    expect(first.map((a) => `${a.username}@${a.host}:${a.port}`)).toEqual(['a@one.example:443', 'b@two.example:443', 'd@two.example:8443']);
    expect(rest.map((a) => a.username)).toEqual(['c', 'e']);
  });
});
