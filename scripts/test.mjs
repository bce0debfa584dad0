// `npm test`: install and build if needed, then run every test (unit, property, integration with
// real site processes). Extra arguments go to vitest, e.g. `npm test -- tests/dm.test.ts`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
await import('./ensure-ready.mjs');

// What the tests run besides Node, all from Debian's packages (never a downloaded browser):
// Chromium for the browser tests; iproute2 and iptables for the vault-behind-NAT test, which
// builds a home network in a namespace; coturn, the TURN relay calls fall back to; Caddy, Pebble
// and openssl for the hosting service's HTTPS test. Missing ones are installed when we may (root with apt).
const browserTestsExcluded = process.argv.slice(2).some((arg) => arg.includes('e2e'));
const chromium = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';
const needed = [
  ...(browserTestsExcluded ? [] : [{ pkg: 'chromium', file: chromium, why: 'the browser tests' }]),
  { pkg: 'iproute2', file: '/usr/sbin/ip', why: 'the network-namespace tests' },
  { pkg: 'iptables', file: '/usr/sbin/iptables', why: 'the network-namespace tests' },
  { pkg: 'coturn', file: '/usr/bin/turnserver', why: 'the call relay tests' },
  { pkg: 'faketime', file: '/usr/bin/faketime', why: 'the clock tests (libfaketime)' },
  { pkg: 'caddy', file: '/usr/bin/caddy', why: 'the hosting service\'s HTTPS test' },
  { pkg: 'pebble', file: '/usr/bin/pebble', why: 'the hosting service\'s HTTPS test (a test ACME CA)' },
  { pkg: 'openssl', file: '/usr/bin/openssl', why: 'the hosting service\'s HTTPS test' },
].filter((n) => !fs.existsSync(n.file));
if (needed.length > 0) {
  if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    console.log(`> installing ${needed.map((n) => n.pkg).join(', ')} for ${[...new Set(needed.map((n) => n.why))].join(' and ')} (apt-get install)`);
    for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...needed.map((n) => n.pkg)]]) {
      const step = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      if (step.status !== 0) process.exit(step.status ?? 1);
    }
  } else {
    for (const n of needed) console.error(`${n.why} need ${n.file}: run "sudo apt-get install ${n.pkg}"${n.pkg === 'chromium' ? ' (or set HEARTH_CHROMIUM)' : ''}, then npm test again.`);
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
