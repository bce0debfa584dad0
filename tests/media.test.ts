import http from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess, waitFor } from './helpers/sites.js';

/** Image attachments: checked by decoding, stripped of metadata, served safely, carried to followers. */
describe('image attachments', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([SiteProcess.create(['alice']), SiteProcess.create(['bob'])]);
    await alice.api('POST', '/api/following', { as: 'alice', body: { address: bob.address('bob') } });
  });
  afterAll(async () => Promise.all([alice?.destroy(), bob?.destroy()]));

  const upload = async (body: Buffer, type: string) => {
    const res = await fetch(`${bob.url}/api/media`, { method: 'POST', headers: { authorization: `Bearer ${await bob.token('bob')}`, 'content-type': type }, body });
    return { status: res.status, body: (await res.json()) as any };
  };

  // A JPEG photo that carries a GPS location and a camera serial in its EXIF, as phones write them.
  const photo = () =>
    sharp({ create: { width: 1200, height: 800, channels: 3, background: '#3a7' } })
      .jpeg()
      .withExif({ IFD0: { Make: 'PhoneCo', Model: 'X1', Software: 'secret-serial-12345' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' } })
      .toBuffer();

  it('a photo is accepted, re-encoded without its EXIF (location, serial), and served with its real type', async () => {
    const original = await photo();
    expect((await sharp(original).metadata()).exif).toBeDefined();
    expect(original.includes(Buffer.from('secret-serial-12345'))).toBe(true);
    const res = await upload(original, 'application/octet-stream');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ type: 'image/jpeg', width: 1200, height: 800 });
    const served = await fetch(res.body.url);
    expect(served.headers.get('content-type')).toBe('image/jpeg');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(served.headers.get('content-security-policy')).toContain('sandbox');
    const bytes = Buffer.from(await served.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.format).toBe('jpeg');
    expect(bytes.includes(Buffer.from('secret-serial-12345'))).toBe(false);
    expect(bytes.includes(Buffer.from('PhoneCo'))).toBe(false);
  });

  it('a renamed non-image is refused with a clear message, whatever its declared type', async () => {
    const before = bob.count('select count(*) n from media');
    const script = Buffer.from('<html><script>alert(document.cookie)</script></html>');
    for (const type of ['image/jpeg', 'image/png', 'application/octet-stream']) {
      const res = await upload(script, type);
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('not_an_image');
      expect(res.body.error.message).toMatch(/not an image Hearth accepts \(JPEG, PNG, GIF or WebP\)/);
    }
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)" width="10" height="10"/>');
    expect((await upload(svg, 'image/svg+xml')).body.error.code).toBe('not_an_image');
    const truncated = (await photo()).subarray(0, 200);
    expect((await upload(truncated, 'image/jpeg')).status).toBe(415);
    expect(bob.count('select count(*) n from media')).toBe(before);
  });

  it('too large an upload is refused before it is read, and uploads need a login', async () => {
    // Only the headers are sent: the site must answer from the declared length alone.
    const token = await bob.token('bob');
    const refused = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request(`${bob.url}/api/media`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png', 'content-length': String(11 * 1024 * 1024) } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          req.destroy(); // the 11 MB body is never sent
        });
      });
      req.on('error', (error) => (error.message.includes('socket hang up') ? undefined : reject(error)));
      req.flushHeaders();
    });
    expect(refused.status).toBe(413);
    expect(refused.body.error.code).toBe('too_large');
    const anonymous = await fetch(`${bob.url}/api/media`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } }).png().toBuffer() });
    expect(anonymous.status).toBe(401);
  });

  it('a post with an image reaches the follower with the image, and others\' uploads cannot be attached', async () => {
    const png = await sharp({ create: { width: 64, height: 48, channels: 4, background: '#f80' } }).png().toBuffer();
    const media = (await upload(png, 'image/png')).body;
    const post = await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'sunset', attachments: [{ id: media.id, alt: 'An orange square, the sunset' }] } });
    expect(post.status).toBe(201);
    const item = await waitFor('the post at alice', async () => (await alice.api('GET', '/api/feed', { as: 'alice' })).body.items.find((p: { text: string }) => p.text === 'sunset'));
    expect(item.attachments).toEqual([{ url: media.url, type: 'image/png', width: 64, height: 48, alt: 'An orange square, the sunset' }]);
    const page = await (await fetch(`${bob.url}/@bob/${post.body.id}`)).text();
    expect(page).toContain(`<img class="attachment" src="${media.url}" alt="An orange square, the sunset" width="64" height="48" loading="lazy">`);
    const stolen = await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'mine now', attachments: [{ id: media.id }] } });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error.code).toBe('unknown_media');
  });
});
