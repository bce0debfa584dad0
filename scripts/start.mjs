// `npm start`: install and build if needed, then serve the site in ./data (created on first run).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { NODE_ENV, NODE_FLAGS } from './runtime.mjs';

const root = path.resolve(import.meta.dirname, '..');
await import('./ensure-ready.mjs');
const args = [...NODE_FLAGS, path.join(root, 'packages/cli/bin/hearth.js'), 'start', '--init', '--data', process.env.HEARTH_DATA ?? './data', ...process.argv.slice(2)];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...NODE_ENV } });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
