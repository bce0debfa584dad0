import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SiteProcess, tempDir } from './helpers/sites.js';
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
    expect(site.log).toMatch(/is full: writes are refused/);
    expect(site.log).not.toMatch(/cannot rollback/);
    expect(acknowledged.length).toBeGreaterThan(0);

    // Space again: writes succeed, and every post acknowledged before is there.
    fs.rmSync(filler);
    const after = await site.api('POST', '/api/posts', { as: 'dana', body: { text: 'room again' } });
    expect(after.status).toBe(201);
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
