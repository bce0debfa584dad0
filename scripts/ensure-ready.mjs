// Installs dependencies when they are missing or older than the lockfile, then builds (tsc -b is
// incremental: a no-op when nothing changed). Used by `npm start`, `npm test` and `npm run bench`,
// so that on a fresh clone each of them is one command.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const marker = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');

function step(label, args) {
  const started = Date.now();
  process.stdout.write(`> ${label}\n`);
  execFileSync(npm, args, { cwd: root, stdio: 'inherit' });
  process.stdout.write(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

const stale = !fs.existsSync(marker) || fs.statSync(lock).mtimeMs > fs.statSync(marker).mtimeMs;
if (stale) {
  step('installing dependencies (the first time this compiles SQLite: about a minute)', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}
step('building', ['run', '--silent', 'build']);
