import { describe, expect, it } from 'vitest';
import { parseSiteDomain, showDomain } from './domains.js';

const refused = (input: string, options = {}) => {
  try {
    parseSiteDomain(input, options);
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
};

describe('site domains', () => {
  it('keeps a plain name as typed, lowercase, without a trailing dot', () => {
    expect(parseSiteDomain(' Alice.Example.COM. ')).toEqual({ ascii: 'alice.example.com' });
  });

  it('keeps an international name in punycode and shows both forms', () => {
    const domain = parseSiteDomain('Bücher.example');
    expect(domain).toEqual({ ascii: 'xn--bcher-kva.example', unicode: 'bücher.example' });
    expect(showDomain(domain)).toBe('bücher.example (xn--bcher-kva.example)');
  });

  it('refuses a label that mixes writing systems, showing the punycode', () => {
    const message = refused('\u0430pple.com'); // a Cyrillic "а" before "pple"
    expect(message).toContain('xn--pple-43d.com');
    expect(message).toContain('Cyrillic');
  });

  it('refuses ports, IP addresses, URLs, paths and half names with what to type instead', () => {
    expect(refused('alice.example.com:8443')).toContain('without a port: alice.example.com');
    expect(refused('203.0.113.7')).toContain('is an IP address');
    expect(refused('[::1]')).toContain('is an IP address');
    expect(refused('https://alice.example.com/')).toContain('like alice.example.com');
    expect(refused('alice.example.com/path')).toContain('no spaces, slashes');
    expect(refused('alice')).toContain('not a full domain');
    expect(refused('-alice.example.com')).toContain('not a valid part');
    expect(refused('a'.repeat(64) + '.com')).toContain('not a valid part');
    expect(refused('')).toContain('type a domain');
  });

  it('lets only a development service use loopback addresses', () => {
    expect(refused('127.0.0.2')).toContain('is an IP address');
    expect(parseSiteDomain('127.0.0.2', { allowLoopbackIp: true })).toEqual({ ascii: '127.0.0.2' });
    expect(refused('10.0.0.2', { allowLoopbackIp: true })).toContain('is an IP address');
  });
});
