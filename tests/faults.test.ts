import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dialLink } from './helpers/link-client.js';
import { hearth, SiteProcess, tempDir, waitFor } from './helpers/sites.js';
import { openDatabase } from './helpers/sqlite.js';

/**
 * Faults a real deployment meets (issue 15), with real processes. Mounting a small tmpfs needs
 * root, as the network-namespace tests do; CI runs as root.
 */
describe('a full disk', () => {
  const mountPoint = tempDir('small-disk');
  let site: SiteProcess | undefined;

  afterAll(async () => {
    await site?.stop('SIGKILL');
    try {
      execFileSync('umount', [mountPoint]);
    } catch {
      /* not mounted */
    }
    fs.rmSync(mountPoint, { recursive: true, force: true });
  });

  it('answers 507 storage_full with a plain log line, shows it on /healthz, and loses nothing acknowledged', async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mountPoint]);
    site = await SiteProcess.create(['dana'], { dataDir: path.join(mountPoint, 'site') });
    // Leave a little room, then post until the disk is full.
    const filler = path.join(mountPoint, 'filler');
    const free = () => fs.statfsSync(mountPoint).bavail * fs.statfsSync(mountPoint).bsize;
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 400 * 1024)));
    const acknowledged: string[] = [];
    let refused: { status: number; body: any } | undefined;
    for (let i = 0; i < 400 && !refused; i++) {
      const res = await site.api('POST', '/api/posts', { as: 'dana', body: { text: `post ${i} ${'x'.repeat(4000)}` } });
      if (res.status === 201) acknowledged.push(res.body.id);
      else refused = res;
    }
    expect(refused, 'the disk never filled').toBeDefined();
    expect(refused!.status).toBe(507);
    expect(refused!.body.error.code).toBe('storage_full');
    expect(refused!.body.error.message).toMatch(/disk is full/);
    const health = await site.api('GET', '/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ ok: false, storage: 'full' });
    // The log line comes through the site's stdout, a moment after the answer.
    await waitFor('the log line', () => /is full: writes are refused/.test(site!.log));
    const status = await hearth(['status', '--data', site.dataDir], { allowFailure: true });
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/storage full/);
    expect(status.stdout).toMatch(/FULL: writes are refused/);
    expect(status.stderr).toMatch(/needs attention/);
    expect(site.log).not.toMatch(/cannot rollback/);
    expect(acknowledged.length).toBeGreaterThan(0);

    // Space again: writes succeed, and every post acknowledged before is there.
    fs.rmSync(filler);
    const after = await site.api('POST', '/api/posts', { as: 'dana', body: { text: 'room again' } });
    expect(after.status).toBe(201);
    expect((await hearth(['status', '--data', site.dataDir])).stdout).toMatch(/Outbox: 0 envelope/);
    await site.stop('SIGKILL');
    const db = openDatabase(path.join(site.dataDir, 'hearth.db'), { readonly: true });
    try {
      const ids = new Set(db.all<{ id: string }>('select id from posts').map((r) => r.id));
      for (const id of acknowledged) expect(ids.has(id)).toBe(true);
      expect(db.all<{ integrity_check: string }>('pragma integrity_check')[0]!.integrity_check).toBe('ok');
    } finally {
      db.close();
    }
  });
});

describe('a follower that stops reading', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  it('holds at most the link budget unacknowledged, and gets every post once it reads again', async () => {
    [alice, bob] = await Promise.all([SiteProcess.create(['alice']), SiteProcess.create(['bob'])]);
    expect((await bob.api('POST', '/api/following', { as: 'bob', body: { address: alice.address('alice') } })).status).toBe(201);
    await waitFor('bob as a follower', () => alice.count('select count(*) n from followers') === 1);
    // bob's site goes away; in its place a client with bob's server key links to alice, takes
    // envelopes and acknowledges none: a follower that has stalled.
    await bob.stop('SIGKILL');
    const link = await dialLink(bob, alice);
    await waitFor('ready', () => link.frames.find((f) => f.t === 'ready'));
    const received = new Map<string, number>();
    let bytes = 0;
    let acking = false;
    link.ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString());
      if (frame.t !== 'env') return;
      if (!received.has(frame.env.id)) bytes += data.length;
      received.set(frame.env.id, (received.get(frame.env.id) ?? 0) + 1);
      if (acking) link.ws.send(JSON.stringify({ t: 'ack', id: frame.env.id, ok: true }));
    });
    const posts = 600; // posts of about 15 KB (4,900 three-byte characters): 9 MB, twice the budget
    for (let i = 0; i < posts; i++) {
      const res = await alice.api('POST', '/api/posts', { as: 'alice', body: { text: `post ${i} ${'☕'.repeat(4900)}` } });
      expect(res.status).toBe(201);
    }
    const budget = 4 * 1024 * 1024;
    await waitFor('the budget to fill', () => bytes > budget - 64 * 1024);
    // The site answers while the link is full, and sends nothing more until something is acknowledged.
    for (let i = 0; i < 20; i++) expect((await alice.api('GET', '/healthz')).status).toBe(200);
    expect(bytes).toBeLessThan(budget + 2 * 16 * 1024);
    expect(received.size).toBeLessThan(posts);

    // The follower reads again: it acknowledges what it holds, and everything else follows.
    acking = true;
    for (const id of received.keys()) link.ws.send(JSON.stringify({ t: 'ack', id, ok: true }));
    await waitFor('every post', () => received.size === posts, 60_000);
    await waitFor('an empty outbox', () => alice.count("select count(*) n from outbox where status = 'pending'") === 0);
    expect(alice.count("select count(*) n from outbox where status = 'failed'")).toBe(0);
    link.ws.close();
  });
});

describe('a damaged write-ahead log', () => {
  let site: SiteProcess;
  afterAll(async () => {
    await site?.destroy();
  });

  it('is noticed at the next start: the log and /healthz say that acknowledged writes were lost', async () => {
    site = await SiteProcess.create(['erin']);
    for (let i = 0; i < 20; i++) expect((await site.api('POST', '/api/posts', { as: 'erin', body: { text: `post ${i}` } })).status).toBe(201);
    const marks = path.join(site.dataDir, 'ack-marks.json');
    await waitFor('the marks to record the posts', () => fs.existsSync(marks) && JSON.parse(fs.readFileSync(marks, 'utf8')).marks.post_seq >= 20);
    await site.stop('SIGKILL');
    // Damage the first frame of the WAL: SQLite's recovery then drops every frame from there on.
    const wal = path.join(site.dataDir, 'hearth.db-wal');
    const bytes = fs.readFileSync(wal);
    expect(bytes.length).toBeGreaterThan(32 + 24);
    for (let i = 32 + 16; i < 32 + 24; i++) bytes[i]! ^= 0xff;
    fs.writeFileSync(wal, bytes);
    await site.start();
    expect(site.count('select count(*) n from posts')).toBeLessThan(20);
    await waitFor('the warning', () => /fewer writes than this site had acknowledged/.test(site.log));
    expect(site.log).toMatch(/post_seq was 20/);
    const health = await site.api('GET', '/healthz');
    expect(health.body).toMatchObject({ ok: true, storage: 'damaged' });
  });
});
