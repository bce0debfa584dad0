import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from './helpers/postgres.js';
import { openDatabase } from './helpers/sqlite.js';
import { hearth, SiteProcess, tempDir, waitFor } from './helpers/sites.js';
import { VaultProcess } from './helpers/vault.js';
import { ServiceProcess } from './helpers/service.js';

/**
 * `hearth migrate-storage`: a site that lived in its SQLite file moves to PostgreSQL with
 * everything it had (posts, follows, comments, likes, DMs, media, the home vault's queue), and
 * serves the same pages afterwards, going on where it left off.
 */
describe('moving a site from SQLite to PostgreSQL', () => {
  let pg: TestPostgres;
  let alice: SiteProcess;
  let bob: SiteProcess;
  const aliceProfile = tempDir('alice-cli');
  const bobProfile = tempDir('bob-cli');
  const dms = async (profile: string) => (JSON.parse((await hearth(['dm', 'list', '--profile', profile, '--json'])).stdout) as { messages: Array<{ id: string; text: string }> }).messages;

  beforeAll(async () => {
    pg = await startPostgres();
    // Both on the embedded default, whatever pass of the tests this is.
    [alice, bob] = await Promise.all([SiteProcess.create(['alice'], { database: 'sqlite' }), SiteProcess.create(['bob', 'bea'], { database: 'sqlite' })]);
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy()]);
    pg?.stop();
  });

  it('copies every row and byte, checks them, and the site serves the same pages afterwards', async () => {
    // A site with some life in it.
    await bob.api('POST', '/api/following', { as: 'bob', body: { address: alice.address('alice') } });
    await alice.api('POST', '/api/following', { as: 'alice', body: { address: bob.address('bob') } });
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#c63' } }).png().toBuffer();
    const media = await fetch(`${bob.url}/api/media`, { method: 'POST', headers: { authorization: `Bearer ${await bob.token('bob')}`, 'content-type': 'image/png' }, body: png }).then((r) => r.json() as Promise<{ id: string; url: string }>);
    const posts: string[] = [];
    for (const text of ['first light', 'the kettle sings', 'a photo of the garden']) {
      const res = await bob.api('POST', '/api/posts', { as: 'bob', body: { text, ...(text.includes('photo') ? { attachments: [{ id: media.id, alt: 'the garden' }] } : {}) } });
      expect(res.status).toBe(201);
      posts.push(res.body.id);
    }
    await bob.api('POST', '/api/posts', { as: 'bea', body: { text: 'bea was here' } });
    const alicePost = (await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'hello from alice' } })).body.id as string;
    await waitFor('alice\'s post in bob\'s feed', async () => (await bob.api('GET', '/api/feed', { as: 'bob' })).body.items.some((p: { id: string }) => p.id === alicePost));
    expect((await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: posts[0] }, text: 'lovely' } })).status).toBe(202);
    expect((await alice.api('POST', '/api/likes', { as: 'alice', body: { post: { author: bob.address('bob'), id: posts[1] } } })).status).toBe(202);
    await waitFor('the comment at bob\'s', () => bob.count('select count(*) n from comments') === 1 && bob.count('select count(*) n from likes') === 1);
    // Devices for end-to-end DMs, and bob's home vault paired but not running: DMs queue for it.
    await hearth(['login', '--profile', aliceProfile, '--site', alice.url, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    await hearth(['login', '--profile', bobProfile, '--site', bob.url, '--user', 'bob', '--password', SiteProcess.password('bob')]);
    await VaultProcess.pair(bob, 'bob');
    await hearth(['dm', 'send', '--profile', aliceProfile, bob.address('bob'), 'the spare key is under the pot']);
    await waitFor('the DM in bob\'s vault queue', () => bob.count('select count(*) n from vault_queue') > 0);
    await hearth(['dm', 'send', '--profile', bobProfile, alice.address('alice'), 'thanks!']);

    // What a visitor and bob see now.
    const pages = async () => ({
      profile: (await bob.api('GET', '/api/users/bob')).body,
      posts: (await bob.api('GET', '/api/users/bob/posts')).body,
      publicPage: await fetch(`${bob.url}/@bob`).then((r) => r.text()),
      // (the counts of others' posts are refreshed by the pull at every link-up, so only what the posts are)
      feed: ((await bob.api('GET', '/api/feed', { as: 'bob' })).body.items as Array<Record<string, unknown>>).map((p) => [p.author, p.id, p.text, p.createdAt, p.attachments]),
      thread: (await bob.api('GET', `/api/users/bob/posts/${posts[0]}`)).body,
      notifications: (await bob.api('GET', '/api/notifications', { as: 'bob' })).body,
      image: Buffer.from(await fetch(media.url).then((r) => r.arrayBuffer())).toString('base64'),
    });
    const before = await pages();
    const dmsBefore = await dms(bobProfile);
    expect(dmsBefore.map((m) => m.text).sort()).toEqual(['thanks!', 'the spare key is under the pot']);

    // Not while it runs: nothing may be written during the copy.
    const running = await hearth(['migrate-storage', '--data', bob.dataDir, '--to', pg.url], { allowFailure: true });
    expect(running.code).toBe(1);
    expect(running.stderr).toMatch(/is running \(process \d+\): stop it first/);

    await bob.stop();
    // Enough rows in one table that it is copied and checked in several batches (500 each).
    bob.execute("with recursive n(i) as (select 1 union all select i + 1 from n where i < 1234) insert into inbox_seen (envelope_id, received_at) select 'seen-' || i, 1795000000000 + i from n");
    const tables = openDatabase(path.join(bob.dataDir, 'hearth.db'), { readonly: true });
    const names = tables.all<{ name: string }>("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' and name not like 'post_search%'").map((t) => t.name);
    const counts = Object.fromEntries(names.map((name) => [name, Number(tables.all<{ n: number }>(`select count(*) n from ${name}`)[0]!.n)]));
    const maxQueueSeq = Number(tables.all<{ n: number }>('select max(seq) n from vault_queue')[0]!.n);
    tables.close();
    expect(counts.posts).toBe(4);
    expect(counts.inbox_seen).toBeGreaterThan(1234);
    expect(counts.vault_queue).toBeGreaterThan(0);

    const moved = await hearth(['migrate-storage', '--data', bob.dataDir, '--to', pg.url]);
    expect(moved.stdout).toMatch(/Moved: \d+ tables, [\d,]+ rows, each table checked on both sides/);
    expect(moved.stdout).toMatch(/Media stays where it is: 1 files/);
    expect(moved.stdout).toContain('posts: 4 rows copied');
    // hearth.json names the database; the old file is kept under another name.
    const config = JSON.parse(fs.readFileSync(path.join(bob.dataDir, 'hearth.json'), 'utf8')) as { database: { url: string; schema: string } };
    expect(config.database).toEqual({ url: pg.url, schema: `site_127_0_0_1_${bob.port}` });
    expect(fs.existsSync(path.join(bob.dataDir, 'hearth.db'))).toBe(false);
    expect(fs.existsSync(path.join(bob.dataDir, 'hearth.db.moved-to-postgres'))).toBe(true);
    // Every table, every row.
    for (const name of names) {
      expect({ name, n: Number(pg.rows<{ n: number }>(`select count(*) n from ${name}`, { schema: config.database.schema })[0]!.n) }).toEqual({ name, n: counts[name] });
    }

    // The same site, from PostgreSQL.
    await bob.start();
    expect(await pages()).toEqual(before);
    expect((await dms(bobProfile)).map((m) => m.id).sort()).toEqual(dmsBefore.map((m) => m.id).sort());
    // And it goes on: a new post from alice reaches bob's feed; a new DM queues for the vault after the old ones.
    const later = (await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'after the move' } })).body.id as string;
    await waitFor('the new post in bob\'s feed', async () => (await bob.api('GET', '/api/feed', { as: 'bob' })).body.items.some((p: { id: string }) => p.id === later));
    await hearth(['dm', 'send', '--profile', aliceProfile, bob.address('bob'), 'see you at eight']);
    await waitFor('the new DM on bob\'s device', async () => (await dms(bobProfile)).some((m) => m.text === 'see you at eight'));
    const queue = pg.rows<{ seq: number }>('select seq from vault_queue order by seq', { schema: config.database.schema });
    expect(queue.length).toBe(counts.vault_queue! + 1);
    expect(queue.at(-1)!.seq).toBeGreaterThan(maxQueueSeq);
    const newPost = await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'posting from postgres' } });
    expect(newPost.status).toBe(201);
    expect((await bob.api('GET', '/api/users/bob/posts')).body.items[0].id).toBe(newPost.body.id);

    // Once is enough.
    await bob.stop();
    const again = await hearth(['migrate-storage', '--data', bob.dataDir, '--to', pg.url], { allowFailure: true });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already keeps its data in PostgreSQL/);
    await bob.start();
  });

  it('refuses clearly: a wrong URL, an unreachable server, a schema that holds tables, a site whose data is still in its file', async () => {
    const site = await SiteProcess.create(['carol'], { start: false, database: 'sqlite' });
    try {
      const wrong = await hearth(['migrate-storage', '--data', site.dataDir, '--to', 'mysql://x@y/z'], { allowFailure: true });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/--to must be a postgres:\/\/ URL/);
      const neither = await hearth(['migrate-storage', '--to', pg.url], { allowFailure: true });
      expect(neither.stderr).toMatch(/give either --data DIR .* or --service DIR/);
      const down = await hearth(['migrate-storage', '--data', site.dataDir, '--to', 'postgres://postgres:secret@127.0.0.1:1/postgres'], { allowFailure: true });
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(/was not moved: .*(ECONNREFUSED|connect)/);
      expect(down.stderr).not.toContain('secret');
      pg.rows('select 1 from (select 1) x');
      // A schema that already holds tables (another site's, a failed attempt) is never written to.
      const taken = await hearth(['migrate-storage', '--data', site.dataDir, '--to', pg.url, '--schema', `site_127_0_0_1_${bob.port}`], { allowFailure: true });
      expect(taken.code).toBe(1);
      expect(taken.stderr).toMatch(/already holds tables: nothing was copied/);
      expect(fs.existsSync(path.join(site.dataDir, 'hearth.db'))).toBe(true);
      // HEARTH_DATABASE_URL set while the data is in the file: the site does not start empty.
      const start = await hearth(['user', 'add', '--data', site.dataDir, '--user', 'dave', '--password', 'dave-secret-pw'], { allowFailure: true, env: { HEARTH_DATABASE_URL: pg.url } });
      expect(start.code).not.toBe(0);
      expect(start.stderr).toMatch(/this site's data is in .*hearth\.db, not in PostgreSQL.*hearth migrate-storage --data/);
    } finally {
      await site.destroy();
    }
  });

  it('moves every site of a hosting service; the service serves them from PostgreSQL and makes new ones there', async () => {
    const service = await ServiceProcess.create({ '127.0.0.21': ['dora'], '127.0.0.22': ['eli'] });
    try {
      const dora = service.site('127.0.0.21');
      const eli = service.site('127.0.0.22');
      const posted = (await dora.api('POST', '/api/posts', { as: 'dora', body: { text: 'dora before the move' } })).body.id as string;
      await eli.api('POST', '/api/posts', { as: 'eli', body: { text: 'eli before the move' } });
      const running = await hearth(['migrate-storage', '--service', service.dataDir, '--to', pg.url], { allowFailure: true });
      expect(running.code).toBe(1);
      expect(running.stderr).toMatch(/the hosting service in .* is running/);
      await service.stop();
      const moved = await hearth(['migrate-storage', '--service', service.dataDir, '--to', pg.url]);
      expect(moved.stdout).toMatch(/\[1\/2\] 127\.0\.0\.21[\s\S]*\[2\/2\] 127\.0\.0\.22[\s\S]*Moved 2 site\(s\)/);
      await service.start();
      expect((await dora.api('GET', '/api/users/dora/posts')).body.items.map((p: { id: string }) => p.id)).toEqual([posted]);
      expect((await dora.api('GET', '/healthz')).body.database).toBe('postgres');
      expect(fs.existsSync(path.join(dora.dataDir, 'hearth.db'))).toBe(false);
      // A new site of the service keeps its data in PostgreSQL from the start.
      const fay = await service.add('127.0.0.23', ['fay']);
      expect(JSON.parse(fs.readFileSync(path.join(fay.dataDir, 'hearth.json'), 'utf8')).database.url).toBe(pg.url);
      expect((await fay.api('POST', '/api/posts', { as: 'fay', body: { text: 'fay, new here' } })).status).toBe(201);
      expect(pg.rows<{ text: string }>('select text from posts', { schema: 'site_127_0_0_23_' + service.port }).map((r) => r.text)).toEqual(['fay, new here']);
      // A service backup of a site in PostgreSQL says where its backup comes from instead.
      const backup = await hearth(['service', 'backup', '127.0.0.21', '--data', service.dataDir], { allowFailure: true });
      expect(backup.code).not.toBe(0);
      expect(backup.stderr).toMatch(/keeps its data in PostgreSQL .*pg_dump --schema site_127_0_0_21_/);
    } finally {
      await service.destroy();
    }
  });
});
