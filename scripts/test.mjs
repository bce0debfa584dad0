// `npm test`: install and build if needed, then run every test (unit, property, integration with
// real site processes). Extra arguments go to vitest, e.g. `npm test -- tests/dm.test.ts`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
await import('./ensure-ready.mjs');

// Browser tests drive Debian's Chromium (never a downloaded browser). Install it when missing.
const browserTestsExcluded = process.argv.slice(2).some((arg) => arg.includes('e2e'));
const chromium = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';
if (!browserTestsExcluded && !fs.existsSync(chromium)) {
  if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    console.log('> installing Chromium for the browser tests (apt-get install chromium)');
    for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'chromium']]) {
      const step = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      if (step.status !== 0) process.exit(step.status ?? 1);
    }
  } else {
    console.error(`The browser tests need Chromium at ${chromium}: run "sudo apt-get install chromium" (or set HEARTH_CHROMIUM), then npm test again.`);
    process.exit(1);
  }
}
const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-test-')), 'report.json');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
try {
  const summary = JSON.parse(fs.readFileSync(report, 'utf8'));
  console.log(`\n${summary.numPassedTests} passed, ${summary.numFailedTests} failed${summary.numPendingTests ? `, ${summary.numPendingTests} skipped` : ''}`);
} catch {
  console.log('\n(no test report was written)');
}
process.exit(result.status ?? 1);
