import { createRequire } from 'node:module';
import Fastify from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { contractSchemaController } from './http-contract.js';
import { errorBody } from './errors.js';

/** A Fastify app with the contract's compilers and one route whose answer the test chooses. */
async function appAnswering(answer: unknown) {
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
  const app = Fastify({ loggerInstance: log, schemaController: contractSchemaController(log) });
  app.setErrorHandler((error, _request, reply) => {
    const { status, body } = errorBody(error);
    void reply.status(status).send(body);
  });
  app.route({
    method: 'POST',
    url: '/echo',
    schema: { body: z.object({ n: z.number().int() }), response: { '2xx': z.object({ n: z.number() }) } },
    handler: async () => answer,
  });
  await app.ready();
  return { app, lines };
}

describe('the API contract in Fastify (zod schemas, no Ajv)', () => {
  it('parses inputs with zod and refuses a bad one with a 400 that says which field', async () => {
    const { app } = await appAnswering({ n: 1 });
    const bad = await app.inject({ method: 'POST', url: '/echo', payload: { n: 'one' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('invalid_request');
    expect(bad.json().error.message).toMatch(/^request body is not valid: n: /);
    const good = await app.inject({ method: 'POST', url: '/echo', payload: { n: 2 } });
    expect(good.statusCode).toBe(200);
    await app.close();
  });

  it('sends only the fields the contract names, and an answer that breaks it is a 500 with the cause in the log', async () => {
    const extra = await appAnswering({ n: 1, secret: 'not for the wire' });
    const res = await extra.app.inject({ method: 'POST', url: '/echo', payload: { n: 1 } });
    expect(res.json()).toEqual({ n: 1 });
    await extra.app.close();

    const broken = await appAnswering({ n: 'one' });
    const failed = await broken.app.inject({ method: 'POST', url: '/echo', payload: { n: 1 } });
    expect(failed.statusCode).toBe(500);
    expect(broken.lines.join('\n')).toContain('an answer does not match the API contract');
    await broken.app.close();
  });

  it('never loads Fastify\'s default compilers, which would stay resident unused', async () => {
    const { app } = await appAnswering({ n: 1 });
    await app.inject({ method: 'POST', url: '/echo', payload: { n: 1 } });
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    expect(loaded.filter((file) => /[/\\](ajv|@fastify[/\\]ajv-compiler|@fastify[/\\]fast-json-stringify-compiler)[/\\]/.test(file))).toEqual([]);
    await app.close();
  });
});
