import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressFromInput, formatAddress, parseAddress, parseHostPort, siteOrigin, siteFromUrl } from './address.js';
import { AddressError } from './errors.js';

const username = fc.stringMatching(/^[a-z0-9_]{1,32}$/);
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
const host = fc.oneof(
  fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{2,6}$/)).map(([labels, tld]) => [...labels, tld].join('.')),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.')),
);
const port = fc.integer({ min: 1, max: 65535 });

describe('addresses', () => {
  it('parse(format(a)) is a, for every valid address', () => {
    fc.assert(
      fc.property(username, host, port, (u, h, p) => {
        const address = { username: u, host: h, port: p };
        expect(parseAddress(formatAddress(address))).toEqual(address);
      }),
    );
  });

  it('format(parse(text)) is canonical and stable', () => {
    fc.assert(
      fc.property(username, host, port, fc.boolean(), (u, h, p, at) => {
        const text = `${at ? '@' : ''}${u.toUpperCase()}@${h.toUpperCase()}:${p}`;
        const once = formatAddress(parseAddress(text));
        expect(formatAddress(parseAddress(once))).toBe(once);
        expect(once).toBe(p === 443 ? `${u}@${h}` : `${u}@${h}:${p}`);
      }),
    );
  });

  it('never throws anything but AddressError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        try {
          parseAddress(text);
        } catch (error) {
          expect(error).toBeInstanceOf(AddressError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['', /must look like/],
    ['alice', /must look like/],
    ['@example.com', /must look like/],
    ['a@b@c.com', /must look like/],
    ['al ice@example.com', /outside ASCII or spaces/],
    ['аlice@example.com', /outside ASCII/], // Cyrillic а
    ['alice@exämple.com', /outside ASCII/],
    ['alice-x@example.com', /username/],
    ['a'.repeat(33) + '@example.com', /username/],
    ['alice@-bad.com', /not a valid DNS name/],
    ['alice@example.com:0', /port/],
    ['alice@example.com:70000', /port/],
    ['alice@example.com:12ab', /not a number/],
    ['alice@[::1', /unclosed/],
    ['alice@1.2.3.4.5', /not a valid DNS name/],
  ])('refuses %j with a clear message', (text, message) => {
    expect(() => parseAddress(text)).toThrow(message);
  });

  it('accepts IPv6 literals and the default port', () => {
    expect(parseAddress('bob@[::1]:8080')).toEqual({ username: 'bob', host: '[::1]', port: 8080 });
    expect(parseHostPort('example.com')).toEqual({ host: 'example.com', port: 443 });
  });

  it('uses https except for dev sites on loopback', () => {
    expect(siteOrigin({ host: 'example.com', port: 443 }, { allowInsecureLoopback: true })).toBe('https://example.com');
    expect(siteOrigin({ host: '127.0.0.1', port: 4001 }, { allowInsecureLoopback: true })).toBe('http://127.0.0.1:4001');
    expect(siteOrigin({ host: '127.0.0.1', port: 4001 }, { allowInsecureLoopback: false })).toBe('https://127.0.0.1:4001');
    // A development site on a private test network speaks http there; public addresses never do.
    expect(siteOrigin({ host: '10.77.3.1', port: 4001 }, { allowInsecureLoopback: true })).toBe('http://10.77.3.1:4001');
    expect(siteOrigin({ host: '192.168.1.20', port: 80 }, { allowInsecureLoopback: true })).toBe('http://192.168.1.20');
    expect(siteOrigin({ host: '172.32.0.1', port: 4001 }, { allowInsecureLoopback: true })).toBe('https://172.32.0.1:4001');
    expect(siteOrigin({ host: '8.8.8.8', port: 4001 }, { allowInsecureLoopback: true })).toBe('https://8.8.8.8:4001');
    expect(siteOrigin({ host: '10.77.3.1', port: 4001 }, { allowInsecureLoopback: false })).toBe('https://10.77.3.1:4001');
    expect(siteFromUrl('https://Example.com')).toEqual({ host: 'example.com', port: 443 });
    expect(siteFromUrl('http://127.0.0.1:4001')).toEqual({ host: '127.0.0.1', port: 4001 });
  });

  it('reads an address or a pasted profile or post link, as a person gives it', () => {
    expect(addressFromInput(' @bob@example.com ')).toEqual({ username: 'bob', host: 'example.com', port: 443 });
    expect(addressFromInput('https://Example.com/@Bob')).toEqual({ username: 'bob', host: 'example.com', port: 443 });
    expect(addressFromInput('http://127.0.0.1:4001/@bob/AbC_1')).toEqual({ username: 'bob', host: '127.0.0.1', port: 4001 });
    expect(() => addressFromInput('https://example.com/about')).toThrow(AddressError);
    expect(() => addressFromInput('bob')).toThrow(AddressError);
  });
});
