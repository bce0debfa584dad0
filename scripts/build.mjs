// `npm run build`: type-check and compile every package (tsc -b, incremental), then bundle the
// `hearth` command into one file. The bundle is what `hearth start` runs: one file loads faster
// and keeps ~10 MB less resident than hundreds of ES modules, which matters on a small VPS.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');

/**
 * zod re-exports all of its ~50 message locales (258 KB of the bundle); Hearth's messages are
 * English. Resolve zod's locale index to English alone: less code to load and keep resident.
 */
const englishOnlyZodLocales = {
  name: 'english-only-zod-locales',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: 'zod-locales-en', namespace: 'hearth' } : undefined,
    );
    b.onLoad({ filter: /^zod-locales-en$/, namespace: 'hearth' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(root, 'node_modules/zod/v4/locales/en.js'))};`,
      loader: 'js',
      resolveDir: root,
    }));
  },
};
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/protocol', 'packages/server', 'packages/vault', 'packages/cli'], { cwd: root, stdio: 'inherit' });
// The web app: type-check, then Vite builds packages/web/dist, which the backend serves.
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'packages/web'], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: path.join(root, 'packages/web'), stdio: 'inherit' });

await build({
  entryPoints: [path.join(root, 'packages/cli/dist/main.js')],
  outfile: path.join(root, 'packages/cli/dist/hearth.bundle.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  // Native addons stay outside the bundle, and so do modules loaded on first use: esbuild would
  // evaluate a bundled module at start even behind import(), and Markdown's entity tables alone
  // cost an idle site 10 MB. The home vault's code is only for `hearth vault` commands.
  external: ['better-sqlite3', 'sodium-native', '@node-rs/argon2', 'sharp', '@hearth/protocol/markdown', '@hearth/vault', 'pg', '@nats-io/transport-node', 'tar', 'prom-client'],
  // CommonJS dependencies inside an ES module bundle need a `require`.
  banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url);" },
  plugins: [englishOnlyZodLocales],
  logLevel: 'warning',
});
