import { API, fastSafeParse, type ApiRouteName, type RouteContract } from '@hearth/protocol';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler, FastifySerializerCompiler, FastifyServerOptions, RouteShorthandOptions } from 'fastify';
import type { z } from 'zod';
import { ApiError } from './errors.js';

type Out<S> = S extends z.ZodType ? z.output<S> : unknown;
type Part<C, K extends string> = C extends { [P in K]: infer S } ? Out<S> : unknown;
type Answer<C extends RouteContract> = C['response'] extends z.ZodType ? z.input<C['response']> : void;

export type ContractRequest<C extends RouteContract> = FastifyRequest<{ Body: Part<C, 'body'>; Querystring: Part<C, 'query'>; Params: Part<C, 'params'> }>;

/** The app's way to settle who sends a request (app.ts decorates it), remembered on the request. */
export interface Authenticating {
  authenticate(request: FastifyRequest): Promise<string>;
}

const PART_NAMES: Record<string, string> = { body: 'request body', querystring: 'query', params: 'path', headers: 'headers' };

/** The first few problems of a failed parse, as one readable sentence. */
function describeIssues(error: z.ZodError, what: string): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || what}: ${issue.message}`)
    .join('; ');
}

/**
 * Lets Fastify use the contract's zod schemas as route schemas: inputs are parsed by them
 * (a failure is our usual 400 `invalid_request`), and answers are serialized through them, so
 * a field outside the contract never reaches the wire and an answer that breaks the contract is
 * a 500 with the cause in the log, not a silent change of the API.
 *
 * Given to Fastify's constructor (`schemaController`) rather than set on the app afterwards:
 * Fastify then never loads its default compilers (Ajv and fast-json-stringify), which would
 * stay resident (about 1.5 MB of heap) without ever being used.
 */
export function contractSchemaController(log: FastifyBaseLogger): NonNullable<FastifyServerOptions['schemaController']> {
  const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
    const what = PART_NAMES[httpPart ?? 'body'] ?? 'request';
    return (data: unknown) => {
      const result = fastSafeParse(schema as z.ZodType, data ?? {});
      if (result.success) return { value: result.data };
      return { error: new ApiError('invalid_request', `${what} is not valid: ${describeIssues(result.error, what)}`, { status: 400 }) };
    };
  };
  const serializerCompiler: FastifySerializerCompiler<unknown> = ({ schema, url, method }) => (data: unknown) => {
    const result = fastSafeParse(schema as z.ZodType, data);
    if (!result.success) {
      log.error({ route: `${method} ${url}`, issues: result.error.issues.slice(0, 5) }, 'an answer does not match the API contract');
      throw new Error(`answer of ${method} ${url} does not match the API contract`);
    }
    return JSON.stringify(result.data);
  };
  // Fastify's types describe these factories by Ajv's and fast-json-stringify's signatures; at
  // run time it calls them with a route's definition, as setValidatorCompiler's compilers are.
  type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
  return {
    compilersFactory: {
      buildValidator: (() => validatorCompiler) as unknown as Factories['buildValidator'],
      buildSerializer: (() => serializerCompiler) as unknown as Factories['buildSerializer'],
    },
  };
}

/**
 * Registers one route of the contract: its method, path and schemas come from `API[name]`;
 * the handler gets the parsed inputs and must answer with the contract's shape.
 */
export function contractRoute<K extends ApiRouteName>(
  app: FastifyInstance,
  name: K,
  handler: (request: ContractRequest<(typeof API)[K]>, reply: FastifyReply) => Promise<Answer<(typeof API)[K]> | FastifyReply>,
  options: RouteShorthandOptions = {},
): void {
  const contract: RouteContract = API[name];
  const schema: Record<string, unknown> = {};
  if (contract.body) schema.body = contract.body;
  if (contract.query) schema.querystring = contract.query;
  if (contract.params) schema.params = contract.params;
  // '2xx': a route may answer 200 instead of 201 (a follow that already existed) with the same shape.
  if (contract.response) schema.response = { '2xx': contract.response };
  app.route({
    ...options,
    // Who is asking is settled before the input is looked at: a stranger learns nothing about
    // what a valid request would be, and gets the same 401 for any body.
    ...(contract.public ? {} : { onRequest: async (request: FastifyRequest) => void (await (app as unknown as Authenticating).authenticate(request)) }),
    method: contract.method,
    url: contract.path,
    schema,
    handler: async (request, reply) => {
      const answer = await handler(request as never, reply);
      // A handler that answered itself returns the reply; Fastify's reply is a thenable, so the
      // await above yields undefined for it, not the reply: `sent` is what says it answered.
      if (answer === reply || reply.sent) return reply;
      if (contract.response === null) return reply.status(contract.status).send();
      if (reply.statusCode === 200 && contract.status !== 200) void reply.status(contract.status);
      return answer;
    },
  });
}
