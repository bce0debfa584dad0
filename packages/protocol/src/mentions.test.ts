import { describe, expect, it } from 'vitest';
import { findMentions, profileUrlOf, scanTags } from './mentions.js';

describe('mentions and tags', () => {
  it('finds each mentioned address once, normalized, and ignores what only looks like one', () => {
    expect(findMentions('@Bob@Example.com hi @carol@127.0.0.1:4001, @bob@example.com again')).toEqual(['bob@example.com', 'carol@127.0.0.1:4001']);
    expect(findMentions('mail bob@example.com or x@bob@example.com or @bob alone or @bob@host:99999')).toEqual([]);
    expect(findMentions('(@dana@a.b)')).toEqual(['dana@a.b']);
  });

  it('finds tags with a letter in them', () => {
    expect(scanTags('#tea and #chá, not #1 or a#b').map((t) => t.value)).toEqual(['tea', 'chá']);
  });

  it('links a profile over https, or http on loopback', () => {
    expect(profileUrlOf('bob@example.com')).toBe('https://example.com/@bob');
    expect(profileUrlOf('bob@127.0.0.1:4001')).toBe('http://127.0.0.1:4001/@bob');
  });
});
