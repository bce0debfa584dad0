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
  { pkg: 'postgresql', file: '/usr/bin/psql', why: 'the PostgreSQL pass (the tests start their own cluster)' },
  { pkg: 'nats-server', file: '/usr/sbin/nats-server', why: 'the several-instances tests' },
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
// The storage and federation suites run twice: on the embedded SQLite (the first pass, with
// everything else) and on PostgreSQL (each site in a schema of its own, in one throwaway cluster
// that tests/helpers/global-setup.ts starts). The second pass runs for a whole `npm test`, or
// with HEARTH_TEST_POSTGRES=1; HEARTH_TEST_POSTGRES=0 skips it.
const POSTGRES_SUITES = [
  'packages/server/src/storage',
  'tests/federation.test.ts', 'tests/dm.test.ts', 'tests/social.test.ts', 'tests/vault.test.ts', 'tests/media.test.ts',
  'tests/public-site.test.ts', 'tests/bad-input.test.ts', 'tests/inbox-fuzz.test.ts', 'tests/protocol-hardening.test.ts',
  'tests/relay.test.ts', 'tests/crash.test.ts', 'tests/clocks.test.ts', 'tests/calls.test.ts', 'tests/cli.test.ts',
];
const args = process.argv.slice(2);
const postgresPass = process.env.HEARTH_TEST_POSTGRES === '1' || (process.env.HEARTH_TEST_POSTGRES !== '0' && args.length === 0);

const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
function runPass(label, vitestArgs, env) {
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-test-')), 'report.json');
  if (label) console.log(`\n== ${label}`);
  const result = spawnSync(process.execPath, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...vitestArgs], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  let summary;
  try {
    summary = JSON.parse(fs.readFileSync(report, 'utf8'));
  } catch {
    /* no report */
  }
  return { status: result.status ?? 1, summary };
}

const passes = [runPass(postgresPass ? 'SQLite (the embedded default): every test' : '', args, {})];
if (postgresPass) passes.push(runPass('PostgreSQL: the storage and federation suites again', [...POSTGRES_SUITES, ...args], { HEARTH_TEST_DATABASE: 'postgres' }));
const passed = passes.reduce((n, p) => n + (p.summary?.numPassedTests ?? 0), 0);
const failed = passes.reduce((n, p) => n + (p.summary?.numFailedTests ?? 0), 0);
const skipped = passes.reduce((n, p) => n + (p.summary?.numPendingTests ?? 0), 0);
if (passes.some((p) => !p.summary)) console.log('\n(a test pass wrote no report)');
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}${passes.length > 1 ? ` (both passes: ${passes.map((p) => p.summary?.numPassedTests ?? 0).join(' on SQLite + ')} on PostgreSQL)` : ''}`);
process.exit(passes.find((p) => p.status !== 0)?.status ?? 0);
