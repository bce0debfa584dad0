import { describe, expect, it } from 'vitest';
import { guardedLookup, isForbiddenAddress } from './ssrf.js';

describe('SSRF guard', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fc00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not-an-ip'])(
    'forbids %s',
    (ip) => expect(isForbiddenAddress(ip)).toBe(true),
  );

  it.each(['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:1.1.1.1'])('allows %s', (ip) => expect(isForbiddenAddress(ip)).toBe(false));

  it('refuses a name that resolves to loopback, unless private addresses are allowed (dev)', async () => {
    const lookup = (allow: boolean) =>
      new Promise<string>((resolve, reject) => guardedLookup(allow)('localhost', {}, (err, address) => (err ? reject(err) : resolve(address as string))));
    await expect(lookup(false)).rejects.toMatchObject({ code: 'forbidden_address' });
    await expect(lookup(true)).resolves.toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});

describe('HTTP client on a production site', () => {
  it('refuses loopback, private and plain-http targets', async () => {
    const { HttpClient } = await import('./http-client.js');
    const client = new HttpClient({ allowInsecure: false, userAgent: 'test' });
    try {
      await expect(client.request({ url: 'https://127.0.0.1:9/' })).rejects.toMatchObject({ code: 'forbidden_address' });
      await expect(client.request({ url: 'https://[::1]:9/' })).rejects.toMatchObject({ code: 'forbidden_address' });
      await expect(client.request({ url: 'https://169.254.169.254/latest/meta-data' })).rejects.toMatchObject({ code: 'forbidden_address' });
      await expect(client.request({ url: 'https://localhost:9/' })).rejects.toMatchObject({ code: 'forbidden_address' });
      await expect(client.request({ url: 'http://example.com/' })).rejects.toMatchObject({ code: 'insecure_url' });
    } finally {
      client.close();
    }
  });
});
