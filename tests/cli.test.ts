import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePort, freePortRun, hearth, HEARTH, ROOT, tempDir, waitFor } from './helpers/sites.js';
import { openDatabase } from './helpers/sqlite.js';

const run = promisify(execFile);

describe('the hearth command', () => {
  it('init without a terminal names the missing flag, exits 2 and creates nothing', async () => {
    const dir = path.join(tempDir('cli'), 'site');
    const res = await hearth(['init', '--data', dir, '--url', 'http://127.0.0.1:4999'], { allowFailure: true });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/missing --user/);
    expect(fs.existsSync(path.join(dir, 'hearth.json'))).toBe(false);
  });

  it('init asks for what is missing on a terminal, and re-asks after a bad answer', async () => {
    const dir = path.join(tempDir('wizard'), 'site');
    const port = await freePort();
    // `script` gives the command a real pseudo-terminal; answers are typed ahead of the questions.
    const answers = `http://127.0.0.1:${port}\nBad Name!\nzoe\nshort\nzoe-long-password\n`;
    const child = spawn('script', ['-qec', `${process.execPath} ${HEARTH} init --data ${dir}`, '/dev/null'], { cwd: ROOT });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stdin.end(answers);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(output).toMatch(/use 1 to 32 of a-z/);
    expect(output).toMatch(/use at least 8 characters/);
    expect(output).toMatch(new RegExp(`Created a site at http://127.0.0.1:${port}`));
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'hearth.json'), 'utf8')).url).toBe(`http://127.0.0.1:${port}`);
    const again = await hearth(['init', '--data', dir, '--url', `http://127.0.0.1:${port}`, '--user', 'x', '--password', 'password1'], { allowFailure: true });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a site/);
  });

  it('user add refuses bad and duplicate names; a public site must use https', async () => {
    const dir = path.join(tempDir('users'), 'site');
    await hearth(['init', '--data', dir, '--url', 'http://127.0.0.1:4998', '--user', 'amy', '--password', 'password1']);
    const bad = await hearth(['user', 'add', '--data', dir, '--user', 'Amy!', '--password', 'password1'], { allowFailure: true });
    expect(bad.code).toBe(2);
    const dup = await hearth(['user', 'add', '--data', dir, '--user', 'amy', '--password', 'password1'], { allowFailure: true });
    expect(dup.stderr).toMatch(/already exists/);
    const missing = await hearth(['user', 'add', '--data', path.join(dir, 'nope'), '--user', 'bo', '--password', 'password1'], { allowFailure: true });
    expect(missing.stderr).toMatch(/no site in .*hearth init/);
    const insecure = await hearth(['init', '--data', path.join(dir, 'x'), '--url', 'http://example.com', '--user', 'a', '--password', 'password1'], { allowFailure: true });
    expect(insecure.stderr).toMatch(/must use https/);
  });

  it('start --init on an empty folder creates a local site and prints its setup link', async () => {
    const dir = path.join(tempDir('start'), 'data');
    const port = await freePort();
    const child = spawn(process.execPath, [HEARTH, 'start', '--init', '--data', dir, '--url', `http://127.0.0.1:${port}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    try {
      // Both lines of the hint: they may come in separate chunks of stdout.
      await waitFor('the hint', () => output.includes('no users yet') && output.includes('--password PASSWORD)'));
      expect(output).toMatch(new RegExp(`http://127\\.0\\.0\\.1:${port}/setup\\?code=[A-Za-z0-9_-]{24}`));
      expect(output).toMatch(/hearth user add --data/);
      expect((await fetch(`http://127.0.0.1:${port}/.well-known/hearth`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.on('exit', resolve));
    }
    expect(output).not.toMatch(/Error/);
  });

  it('demo runs three sites that follow each other', async () => {
    const dir = tempDir('demo');
    const base = await freePortRun(3);
    const res = await hearth(['demo', '--data', dir, '--base-port', String(base), '--exit']);
    expect(res.stdout).toMatch(/alice@127\.0\.0\.1/);
    expect(res.stdout).toMatch(/login bob \/ bob-demo-password/);
    expect(fs.readdirSync(dir).sort()).toEqual(['alice', 'bob', 'carol']);
    const db = openDatabase(path.join(dir, 'alice', 'hearth.db'), { readonly: true });
    try {
      const following = db.all<{ target: string }>('select target from following order by target');
      expect(following.map((f) => f.target)).toEqual([`bob@127.0.0.1:${base + 1}`, `carol@127.0.0.1:${base + 2}`]);
      const authors = db.all<{ author: string }>('select distinct author from remote_posts order by author');
      expect(authors.map((a) => a.author)).toEqual([`bob@127.0.0.1:${base + 1}`, `carol@127.0.0.1:${base + 2}`]);
    } finally {
      db.close();
    }
  });

  it('a demo that cannot take its ports says so and exits, instead of hanging', async () => {
    const base = await freePortRun(3);
    const blocker = net.createServer().listen(base + 2, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    try {
      const started = Date.now();
      const res = await hearth(['demo', '--data', tempDir('demo-busy'), '--base-port', String(base), '--exit'], { allowFailure: true });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/port is already in use/);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      blocker.close();
    }
  });

  it('every command has --help', async () => {
    for (const args of [[], ['init'], ['start'], ['user'], ['user', 'add'], ['demo'], ['login'], ['dm'], ['dm', 'send'], ['dm', 'list']]) {
      const { stdout } = await run(process.execPath, [HEARTH, ...args, '--help'], { cwd: ROOT });
      expect(stdout).toMatch(/^Usage: hearth/m);
    }
    const unknown = await hearth(['frobnicate'], { allowFailure: true });
    expect(unknown.code).toBe(2);
  });
});
