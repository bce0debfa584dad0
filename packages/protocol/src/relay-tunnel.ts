import { z } from 'zod';
import { canonicalize } from './canonical-json.js';
import { utf8 } from './encoding.js';

/**
 * The vault tunnel (PROTOCOL.md §9, "The home vault through a relay"). A home vault that cannot
 * reach its own site opens a WebSocket to a friend's site that relays for its owner, proves it is
 * a device of that owner, and asks for a byte pipe to the owner's own site, nowhere else. Its
 * ordinary vault link (§7) then runs inside the pipe, TLS included on an https site, so the relay
 * passes bytes it cannot read and learns only who, to where, how much and when.
 *
 *   relay -> vault  challenge {nonce}
 *   vault -> relay  hello     {from, to, device, sig: S_device(tunnelProof(relay origin, nonce, device, from, to))}
 *   relay -> vault  open      {}            then binary frames both ways: the bytes of the pipe
 *   relay -> vault  error     {code, message}   and the socket closes
 */
export const RELAY_TUNNEL_PATH = '/federation/relay/tunnel';
/** The largest binary frame either side sends through a tunnel. */
export const TUNNEL_FRAME_MAX_BYTES = 64 * 1024;

const nonce = z.string().regex(/^[A-Za-z0-9_-]{22,64}$/);

export const TunnelServerFrameSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('challenge'), nonce }),
  z.strictObject({ t: z.literal('open') }),
  z.strictObject({ t: z.literal('error'), code: z.string().max(64), message: z.string().max(500), retryAfterMs: z.number().int().min(0).optional() }),
]);
export type TunnelServerFrame = z.infer<typeof TunnelServerFrameSchema>;

export const TunnelHelloSchema = z.strictObject({
  t: z.literal('hello'),
  /** The vault's owner: the tunnel goes to this address's site. */
  from: z.string().max(300),
  /** The person at the relay who relays for the owner. */
  to: z.string().max(300),
  device: z.string().max(64),
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
});
export type TunnelHello = z.infer<typeof TunnelHelloSchema>;

/** What the vault signs: the relay it dials and the nonce it was given (a proof is good once, there only), itself, its owner and the relaying person. */
export function tunnelProofBytes(relayOrigin: string, nonceText: string, device: string, from: string, to: string): Uint8Array {
  return utf8(canonicalize({ t: 'hearth-vault-tunnel-v1', origin: relayOrigin, nonce: nonceText, device, from, to }));
}
