import { z } from 'zod';
import { LIMITS } from './limits.js';
import { ExactTimeSchema } from './time.js';

/**
 * One schema per envelope type: the single source of truth for what `data` may hold.
 * Code imports TYPES instead of typing message-type strings.
 */
export const TYPES = {
  follow: 'follow',
  unfollow: 'unfollow',
  followerRemove: 'follower.remove',
  postCreate: 'post.create',
  postUpdate: 'post.update',
  postDelete: 'post.delete',
  mention: 'mention',
  repostCreate: 'repost.create',
  repostDelete: 'repost.delete',
  commentCreate: 'comment.create',
  commentDelete: 'comment.delete',
  likeCreate: 'like.create',
  likeDelete: 'like.delete',
  dm: 'dm',
  callSignal: 'call.signal',
  /** Another envelope, sealed for its destination site, for a friend's site to pass on (PROTOCOL.md §9). */
  relay: 'relay',
  /**
   * A GET of a public document on `next`, passed on by a relay and answered at once (never
   * queued): sealed for the destination site, or, without `sealed`, its discovery document.
   */
  relayFetch: 'relay.fetch',
} as const;

export type EnvelopeType = (typeof TYPES)[keyof typeof TYPES];

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'ids are 1-64 of A-Z a-z 0-9 _ -');
const isoTime = ExactTimeSchema;
const b64 = (max: number) => z.string().regex(/^[A-Za-z0-9_-]*$/, 'base64url').max(max);
const key = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a 32-byte key in base64url');

/** An image attached to a post: served by the author's site, described for people who cannot see it. */
export const AttachmentSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(LIMITS.urlChars),
  type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']),
  width: z.number().int().min(1).max(10_000),
  height: z.number().int().min(1).max(10_000),
  alt: z.string().max(LIMITS.altChars),
});

export const PostSchema = z.strictObject({
  id,
  text: z.string().min(1).max(LIMITS.postChars),
  createdAt: isoTime,
  /** Set once the author has edited it (post.update). */
  editedAt: isoTime.optional(),
  /** Shown instead of the text until the reader chooses to see it. */
  contentWarning: z.string().min(1).max(LIMITS.contentWarningChars).optional(),
  attachments: z.array(AttachmentSchema).max(LIMITS.attachments).optional(),
});

export const CommentSchema = z.strictObject({
  id,
  text: z.string().min(1).max(LIMITS.commentChars),
  createdAt: isoTime,
  /** The comment (on the same post) this one answers. */
  replyTo: id.optional(),
});

/** A DM body encrypted once, with its key wrapped for each recipient device (see e2e.ts). */
export const DmCiphertextSchema = z.strictObject({
  alg: z.literal('x25519-hkdf-sha256-xchacha20poly1305'),
  ephemeralKey: key,
  nonce: b64(32),
  ciphertext: b64(Math.ceil(((LIMITS.dmChars * 4 + 4096) * 4) / 3)),
  recipients: z
    .array(z.strictObject({ device: id, nonce: b64(32), wrappedKey: b64(64) }))
    .min(1)
    .max(LIMITS.dmRecipients),
});

/**
 * A call signal (ring, offer, answer, ICE candidate, hang-up...), sealed end to end between the
 * two browsers like a DM (see call.ts): the sites see that a call happens, not its SDP.
 */
export const CallSealedSchema = DmCiphertextSchema.extend({ ciphertext: b64(48 * 1024) });

/**
 * An envelope sealed for one site (relay.ts): the same construction as a DM, with one recipient,
 * the destination site's relay key, and a domain label of its own.
 */
export const RelaySealedSchema = DmCiphertextSchema.extend({
  ciphertext: b64(Math.ceil(((LIMITS.envelopeBytes + 1024 + 16) * 4) / 3)),
  recipients: z.array(z.strictObject({ device: z.string().max(16), nonce: b64(32), wrappedKey: b64(64) })).length(1),
});

/** A relayed fetch request, sealed for its destination site (relay.ts). */
export const RelayFetchSealedSchema = RelaySealedSchema.extend({ ciphertext: b64(4096) });

const siteName = z.strictObject({ host: z.string().max(253), port: z.number().int().min(1).max(65535) });

export const MESSAGE_SCHEMAS = {
  [TYPES.follow]: z.strictObject({}),
  [TYPES.unfollow]: z.strictObject({}),
  [TYPES.followerRemove]: z.strictObject({}),
  [TYPES.postCreate]: z.strictObject({ post: PostSchema }),
  // The whole post as it now reads; editedAt orders edits that arrive out of order.
  [TYPES.postUpdate]: z.strictObject({ post: PostSchema.required({ editedAt: true }) }),
  [TYPES.postDelete]: z.strictObject({ post: z.strictObject({ id }) }),
  // "You were mentioned in my post": where to read it, and its opening words for the notification.
  [TYPES.mention]: z.strictObject({ post: z.strictObject({ id, excerpt: z.string().max(300) }) }),
  // A repost names the original by its author's address and id; the receiving site reads the post
  // from its author's site, never from the sharer's word.
  [TYPES.repostCreate]: z.strictObject({ post: z.strictObject({ author: z.string().max(300), id }) }),
  [TYPES.repostDelete]: z.strictObject({ post: z.strictObject({ author: z.string().max(300), id }) }),
  [TYPES.commentCreate]: z.strictObject({ post: z.strictObject({ id }), comment: CommentSchema }),
  [TYPES.commentDelete]: z.strictObject({ post: z.strictObject({ id }), comment: z.strictObject({ id }) }),
  [TYPES.likeCreate]: z.strictObject({ post: z.strictObject({ id }) }),
  [TYPES.likeDelete]: z.strictObject({ post: z.strictObject({ id }) }),
  [TYPES.dm]: z.strictObject({ message: DmCiphertextSchema }),
  [TYPES.callSignal]: z.strictObject({ call: z.strictObject({ id }), sealed: CallSealedSchema }),
  // `next`: the site the relay passes it to; `hops`: how many relay sites may still pass it on
  // (outside the inner signature, so each relay counts it down); `sealed`: the inner envelope.
  [TYPES.relay]: z.strictObject({ next: siteName, hops: z.number().int().min(0).max(LIMITS.relayHops), sealed: RelaySealedSchema }),
  [TYPES.relayFetch]: z.strictObject({ next: siteName, hops: z.number().int().min(0).max(LIMITS.relayHops), sealed: RelayFetchSealedSchema.optional() }),
} as const satisfies Record<EnvelopeType, z.ZodType>;

export type MessageData = { [T in EnvelopeType]: z.infer<(typeof MESSAGE_SCHEMAS)[T]> };
export type DmCiphertext = z.infer<typeof DmCiphertextSchema>;
export type PostData = z.infer<typeof PostSchema>;
export type Attachment = z.infer<typeof AttachmentSchema>;
export type CommentData = z.infer<typeof CommentSchema>;

export function isEnvelopeType(type: string): type is EnvelopeType {
  return Object.prototype.hasOwnProperty.call(MESSAGE_SCHEMAS, type);
}
