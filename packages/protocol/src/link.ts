import { z } from 'zod';
import { canonicalize } from './canonical-json.js';
import { utf8 } from './encoding.js';
import { LIMITS } from './limits.js';
import { RelayResultSchema } from './relay.js';

/**
 * The site-to-site link at /federation: a mutual handshake, then envelopes and acks.
 *
 *   client -> server  hello     {client, server, nonce: Nc}
 *   server -> client  challenge {nonce: Ns, sig: S_server(proof("server", client, server, Nc))}
 *   client -> server  auth      {sig: S_client(proof("client", client, server, Ns))}
 *   server -> client  ready
 *
 * Each side signs the *other's* fresh nonce and both names with its server key, as published
 * at https://{site}/.well-known/hearth. A recorded handshake cannot be replayed (fresh nonces)
 * nor redirected to a third site (both names are signed).
 */
const site = z.strictObject({ host: z.string().max(253), port: z.number().int().min(1).max(65535) });
const nonce = z.string().regex(/^[A-Za-z0-9_-]{22,64}$/);
const sig = z.string().regex(/^[A-Za-z0-9_-]{86}$/);

export const LinkFrameSchema = z.discriminatedUnion('t', [
  // `instance`: which instance of the client site dials, when the site runs several (PROTOCOL.md §5):
  // the server keeps one link each way per instance, so the instances do not replace each other's.
  z.strictObject({ t: z.literal('hello'), v: z.number().int(), client: site, server: site, nonce, instance: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional() }),
  z.strictObject({ t: z.literal('challenge'), nonce, sig }),
  z.strictObject({ t: z.literal('auth'), sig }),
  z.strictObject({ t: z.literal('ready') }),
  z.strictObject({ t: z.literal('env'), env: z.unknown() }),
  z.strictObject({
    t: z.literal('ack'),
    id: z.string().max(64),
    ok: z.boolean(),
    code: z.string().max(64).optional(),
    message: z.string().max(500).optional(),
    retryable: z.boolean().optional(),
    /** The receiver's clock (ISO time), on clock_skew and expired refusals. */
    time: z.string().max(40).optional(),
    /** How long to wait before sending again (a relay's per-friend limit), in ms. */
    retryAfterMs: z.number().int().min(0).max(7 * 24 * 60 * 60 * 1000).optional(),
    /** For a relay envelope: the destination's ack of each envelope it carried (PROTOCOL.md §9). */
    results: z.array(RelayResultSchema).max(LIMITS.relayBatch).optional(),
  }),
  z.strictObject({ t: z.literal('error'), code: z.string().max(64), message: z.string().max(500) }),
]);
export type LinkFrame = z.infer<typeof LinkFrameSchema>;

export function linkProofBytes(role: 'client' | 'server', client: { host: string; port: number }, server: { host: string; port: number }, nonce: string): Uint8Array {
  return utf8(canonicalize({ t: 'hearth-link-v1', role, client: { host: client.host, port: client.port }, server: { host: server.host, port: server.port }, nonce }));
}
