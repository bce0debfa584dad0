import { HearthError, parseAddress, type Address } from '@hearth/protocol';
import type { FastifyRequest } from 'fastify';
import type { Context } from './context.js';
import { sha256Hex } from './crypto/node-signing.js';
import { badRequest, unauthorized } from './errors.js';
import { compiledOnce } from './storage/compiled.js';

/** Whether a client address is this machine (IPv4, IPv6 or IPv4-mapped loopback). */
export function isLoopbackIp(ip: string | undefined): boolean {
  return ip === '::1' || /^(::ffff:)?127\./.test(ip ?? '');
}

export function parseAddressInput(text: unknown): Address {
  if (typeof text !== 'string') throw badRequest('invalid_address', 'address must be a string like name@host');
  return parseAddress(text);
}

const authenticated = new WeakMap<FastifyRequest, string>();

/** The username behind the Bearer token, or a 401 (looked up once per request). */
export async function requireUser(ctx: Context, request: FastifyRequest): Promise<string> {
  const known = authenticated.get(request);
  if (known !== undefined) return known;
  const username = await userForRequest(ctx, request);
  authenticated.set(request, username);
  return username;
}

async function userForRequest(ctx: Context, request: FastifyRequest): Promise<string> {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer (.+)$/.exec(header) : null;
  if (!match) throw unauthorized();
  return userForToken(ctx, match[1]!);
}

// Every signed-in request asks it.
const sessionByHash = compiledOnce((db, v: { hash: string }) => db.selectFrom('sessions').select(['username', 'expires_at']).where('token_hash', '=', v.hash));

/** The username of a session token (from a header, or a live socket's first message), or a 401. */
export async function userForToken(ctx: Context, token: unknown): Promise<string> {
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{20,100}$/.test(token)) throw unauthorized();
  const session = (await sessionByHash(ctx.db, { hash: sha256Hex(token) })).rows[0];
  if (!session || Number(session.expires_at) < ctx.now()) throw unauthorized('the session has expired or does not exist: log in again');
  return session.username;
}

export function isHearthError(error: unknown): error is HearthError {
  return error instanceof HearthError;
}
