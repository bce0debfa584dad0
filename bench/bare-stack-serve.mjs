// One step of the baseline for a site's idle memory (bench/bare-stack.mjs measures them):
// `node bench/bare-stack-serve.mjs STEP PORT DIR` serves GET /healthz (and a WebSocket echo at
// /ws in the last step) on 127.0.0.1:PORT until it is killed. It imports only what its step
// uses, so each step's memory is that step's libraries and nothing of the bench's.
//   node     node:http, and one Ed25519 signature made and checked with node:crypto
//   sqlite   + better-sqlite3: a database in WAL mode with one table and one row
//   fastify  + fastify with one route, instead of node:http
//   stack    + @fastify/websocket, Kysely over that database, a zod schema and a pino logger
import crypto from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

const STEPS = ['node', 'sqlite', 'fastify', 'stack'];

// The server package's own copies of each library.
const require = createRequire(path.resolve(import.meta.dirname, '../packages/server/package.json'));

async function serve(step, port, dir) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const message = Buffer.from('hearth');
  if (!crypto.verify(null, message, publicKey, crypto.sign(null, message, privateKey))) throw new Error('Ed25519 self-check failed');
  const at = STEPS.indexOf(step);
  if (at < 0) throw new Error(`unknown step "${step}": one of ${STEPS.join(', ')}`);
  let sqlite;
  if (at >= 1) {
    const SQLite = require('better-sqlite3');
    sqlite = new SQLite(path.join(dir, `${step}.db`));
    sqlite.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; create table if not exists t (id integer primary key, text text not null)');
    sqlite.prepare('insert into t (text) values (?)').run('hearth');
  }
  if (at < 2) {
    await new Promise((resolve) => http.createServer((req, res) => res.end('{"ok":true}')).listen(port, '127.0.0.1', resolve));
    return;
  }
  const app = require('fastify')(at >= 3 ? { loggerInstance: require('pino')({ level: 'warn' }) } : { logger: false });
  if (at >= 3) {
    const { Kysely, SqliteDialect } = require('kysely');
    const db = new Kysely({ dialect: new SqliteDialect({ database: sqlite }) });
    const { z } = require('zod');
    const Row = z.object({ id: z.number().int(), text: z.string() });
    for (const row of await db.selectFrom('t').selectAll().execute()) Row.parse(row);
    await app.register(require('@fastify/websocket'));
    app.get('/ws', { websocket: true }, (socket) => socket.on('message', (data) => socket.send(data)));
  }
  app.get('/healthz', async () => ({ ok: true }));
  await app.listen({ port, host: '127.0.0.1' });
}

const [step, port, dir] = process.argv.slice(2);
await serve(step, Number(port), dir);
