import { z } from 'zod';
import { LIMITS } from './limits.js';
import { AttachmentSchema, CallSealedSchema, DmCiphertextSchema } from './messages.js';
import { SealedSchema } from './vault.js';
import { ExactTimeSchema } from './time.js';

/**
 * The site's HTTP API as one contract (docs/API.md): for each `/api` route its method, path,
 * inputs and answer. The server attaches these schemas to its Fastify routes (inputs are
 * validated by them, answers are serialized through them, so nothing outside the contract
 * leaks); the web app and the CLI take their types from here (type-only imports: no
 * schema code reaches the browser bundle). Error answers are `{"error":{"code","message"}}`
 * with codes from error-codes.ts.
 */

const iso = z.string();
const address = z.string().max(300);
const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not an id');
const username = z.string().regex(/^[a-z0-9_]{1,32}$/, 'use 1 to 32 of a-z, 0-9 and _');
const key = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a 32-byte key in base64url');
const cursor = z.string().max(100);
const count = z.number().int().min(0);

// ---- Shapes that several answers share -------------------------------------------------

export const DeviceKeysSchema = z.object({ id: z.string(), signKey: z.string(), dhKey: z.string(), cert: z.string() });

/** A person's public profile with the keys other devices need (served to anyone). */
export const ProfileSchema = z.object({
  username: z.string(),
  address: z.string(),
  displayName: z.string(),
  bio: z.string(),
  avatarUrl: z.string(),
  siteKey: z.string(),
  siteKeyRotation: z.unknown().optional(),
  identityKey: z.string().nullable(),
  devices: z.array(DeviceKeysSchema),
  postCount: count,
  createdAt: iso,
  /** The id of the post they pinned to the top of their profile. */
  pinnedPost: z.string().optional(),
});

/** Who wrote something, as a page shows them: name and picture when known, always the address. */
export const PersonSchema = z.object({ address: z.string(), displayName: z.string().optional(), avatarUrl: z.string().optional() });

export const PostViewSchema = z.object({
  id: z.string(),
  text: z.string(),
  author: z.string(),
  createdAt: iso,
  /** When the author last edited it; absent if never. */
  editedAt: iso.optional(),
  url: z.string().optional(),
  likeCount: count.optional(),
  commentCount: count.optional(),
  /** Whether I (the logged-in reader) like it; only in my own feed. */
  likedByMe: z.boolean().optional(),
  attachments: z.array(AttachmentSchema).optional(),
  /** The author site's post sequence (PROTOCOL.md §5 "Following"). */
  seq: z.number().int().optional(),
  /** In a feed: the author's name and picture, when my site knows them. */
  authorProfile: PersonSchema.optional(),
  /** Shown instead of the text until the reader opens it. */
  contentWarning: z.string().optional(),
  /** In a feed: someone I follow (or I) shared this post, at that time. */
  repostedBy: PersonSchema.optional(),
  repostedAt: iso.optional(),
  /** Whether I shared it. */
  repostedByMe: z.boolean().optional(),
});

export const CommentViewSchema = z.object({ id: z.string(), author: z.string(), text: z.string(), createdAt: iso, replyTo: z.string().optional(), authorProfile: PersonSchema.optional() });

export const PostDetailSchema = PostViewSchema.extend({
  likes: z.array(z.string()),
  comments: z.array(CommentViewSchema),
});

export const PageSchema = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next: cursor.nullable() });

const AddressSinceSchema = z.object({ address: z.string(), since: iso, displayName: z.string().optional(), avatarUrl: z.string().optional() });
const AddressList = z.object({ items: z.array(AddressSinceSchema) });

export const NotificationSchema = z.object({
  seq: z.number().int(),
  kind: z.string(),
  data: z.record(z.string(), z.unknown()),
  createdAt: iso,
  read: z.boolean(),
  /** Who did it, with name and picture when known. */
  actor: PersonSchema.optional(),
  /** The post it is about (my post), and the comment, as they read now (absent once deleted). */
  post: z.object({ id: z.string(), text: z.string() }).optional(),
  comment: z.object({ id: z.string(), text: z.string() }).optional(),
});

export const KeyBackupSchema = z.strictObject({
  alg: z.literal('scrypt-xchacha20poly1305'),
  salt: z.string().max(64),
  N: z.number().int(),
  r: z.number().int(),
  p: z.number().int(),
  nonce: z.string().max(64),
  ciphertext: z.string().max(512),
});

export const NewDeviceSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  name: z.string().trim().min(1).max(100),
  signKey: key,
  dhKey: key,
  cert: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
  identityKey: key,
});

// ---- Inputs ----------------------------------------------------------------------------

const PostRef = z.strictObject({ author: address, id });
const postText = z
  .string()
  .trim()
  .min(1, 'a post needs some text')
  .max(LIMITS.postChars, `a post may be at most ${LIMITS.postChars} characters`);
const AddressBody = z.strictObject({ address });
const contentWarning = z.string().trim().max(LIMITS.contentWarningChars, `a content warning may be at most ${LIMITS.contentWarningChars} characters`);
const AddressParam = z.object({ address: z.string().max(600) });
const pageLimit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

// ---- The routes ------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContract {
  method: Method;
  /** Fastify syntax: `:name` is a path parameter. */
  path: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Open to anyone; every other route needs `Authorization: Bearer TOKEN` (checked before its input). */
  public?: true;
  /** The success status and the answer's schema; `null` for an empty answer (204). */
  status: number;
  response: z.ZodType | null;
}

const RelayCountsSchema = z.object({ envelopes: count, bytes: count, refused: count });
/** Someone I relay for, with the limits I set and what I relayed for them (counts, never contents). */
const RelayFriendSchema = z.object({
  address,
  perMinute: count,
  bytesPerDay: count,
  since: iso,
  displayName: z.string().optional(),
  /** Relayed for because I relay for everyone I follow who follows me back (not on my list). */
  mutual: z.boolean().optional(),
  today: RelayCountsSchema,
  total: RelayCountsSchema,
});
const RelayFriendBody = z.strictObject({
  address,
  perMinute: z.number().int().min(1, 'allow at least 1 envelope a minute').max(60_000).optional(),
  bytesPerDay: z.number().int().min(1024, 'allow at least 1 KB a day').max(100 * 1024 ** 3).optional(),
});
/** How my site reaches another site now: direct, or through whom, since when. */
const RelayPathSchema = z.object({
  site: z.string(),
  via: address.nullable(),
  since: iso,
  /** While a relay is in use: when the direct path is tried again. */
  nextProbeAt: iso.optional(),
  /** The people I follow or who follow me there (what a person recognises). */
  people: z.array(address),
});

const route = <R extends RouteContract>(r: R): R => r;

export const API = {
  // Session and site
  login: route({ method: 'POST', path: '/api/auth/login', public: true, body: z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }), status: 200, response: z.object({ token: z.string(), username: z.string(), expiresAt: iso }) }),
  logout: route({ method: 'POST', path: '/api/auth/logout', status: 204, response: null }),
  setupNeeded: route({ method: 'GET', path: '/api/setup', public: true, status: 200, response: z.object({ needed: z.boolean() }) }),
  setup: route({
    method: 'POST',
    path: '/api/setup', public: true,
    body: z.strictObject({ code: z.string().max(100), username, password: z.string().min(LIMITS.passwordMinChars, `use at least ${LIMITS.passwordMinChars} characters`).max(1024), displayName: z.string().trim().min(1).max(LIMITS.displayNameChars) }),
    status: 201,
    response: z.object({ token: z.string(), username: z.string() }),
  }),
  siteInfo: route({ method: 'GET', path: '/api/site', public: true, status: 200, response: z.object({ site: z.object({ host: z.string(), port: z.number() }), origin: z.string(), users: z.array(z.string()) }) }),
  status: route({
    method: 'GET',
    path: '/api/status',
    query: z.object({ resetEventLoop: z.enum(['0', '1']).optional() }),
    status: 200,
    response: z.object({
      site: z.string(),
      links: z.array(z.record(z.string(), z.unknown())),
      outbox: z.object({ pending: count, failed: count }),
      storage: z.string(),
      eventLoop: z.record(z.string(), z.unknown()),
    }),
  }),
  me: route({ method: 'GET', path: '/api/me', status: 200, response: ProfileSchema }),
  updateProfile: route({
    method: 'PATCH',
    path: '/api/me/profile',
    body: z.strictObject({
      displayName: z.string().trim().min(1).max(LIMITS.displayNameChars).optional(),
      bio: z.string().max(LIMITS.bioChars).optional(),
      avatarUrl: z.union([z.literal(''), z.url({ protocol: /^https?$/ }).max(LIMITS.urlChars)]).optional(),
    }),
    status: 200,
    response: ProfileSchema,
  }),
  rotateSiteKey: route({ method: 'POST', path: '/api/me/site-key/rotate', status: 200, response: z.object({ siteKey: z.string(), previous: z.string(), resigned: count }) }),

  // People and posts (public)
  user: route({ method: 'GET', path: '/api/users/:name', public: true, params: z.object({ name: z.string() }), status: 200, response: ProfileSchema }),
  userPosts: route({
    method: 'GET',
    path: '/api/users/:name/posts', public: true,
    params: z.object({ name: z.string() }),
    query: z.object({
      limit: pageLimit(100, 20),
      before: cursor.optional(),
      since: ExactTimeSchema.optional(),
      afterSeq: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    }),
    status: 200,
    response: PageSchema(PostViewSchema),
  }),
  userPost: route({ method: 'GET', path: '/api/users/:name/posts/:id', public: true, params: z.object({ name: z.string(), id: z.string() }), status: 200, response: PostDetailSchema }),

  // My posts
  createPost: route({
    method: 'POST',
    path: '/api/posts',
    body: z.strictObject({
      text: postText,
      /** Empty or absent: none. */
      contentWarning: contentWarning.optional(),
      attachments: z
        .array(z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'an id from POST /api/media'), alt: z.string().max(LIMITS.altChars).default('') }))
        .max(LIMITS.attachments, `a post may have at most ${LIMITS.attachments} images`)
        .optional(),
    }),
    status: 201,
    response: PostViewSchema,
  }),
  editPost: route({ method: 'PATCH', path: '/api/posts/:id', params: z.object({ id: z.string() }), body: z.strictObject({ text: postText, contentWarning: contentWarning.optional() }), status: 200, response: PostViewSchema }),
  pin: route({ method: 'PUT', path: '/api/me/pinned', body: z.strictObject({ id }), status: 200, response: z.object({ pinnedPost: z.string() }) }),
  unpin: route({ method: 'DELETE', path: '/api/me/pinned', status: 204, response: null }),
  repost: route({ method: 'POST', path: '/api/reposts', body: z.strictObject({ post: PostRef }), status: 201, response: z.object({ post: z.object({ author: z.string(), id: z.string() }), reposted: z.boolean() }) }),
  unrepost: route({ method: 'DELETE', path: '/api/reposts', query: PostRef, status: 200, response: z.object({ post: z.object({ author: z.string(), id: z.string() }), reposted: z.boolean() }) }),
  deletePost: route({ method: 'DELETE', path: '/api/posts/:id', params: z.object({ id: z.string() }), status: 204, response: null }),

  // Following and the feed
  follow: route({ method: 'POST', path: '/api/following', body: AddressBody, status: 201, response: z.object({ address: z.string(), following: z.literal(true) }) }),
  following: route({ method: 'GET', path: '/api/following', status: 200, response: AddressList }),
  unfollow: route({ method: 'DELETE', path: '/api/following/:address', params: AddressParam, status: 204, response: null }),
  followers: route({ method: 'GET', path: '/api/followers', status: 200, response: AddressList }),
  feed: route({ method: 'GET', path: '/api/feed', query: z.object({ limit: pageLimit(100, 20), before: cursor.optional() }), status: 200, response: PageSchema(PostViewSchema) }),

  // Anyone, local or on another site, seen through my own site (my browser never asks theirs)
  person: route({
    method: 'GET',
    path: '/api/people/:address',
    params: AddressParam,
    status: 200,
    response: z.object({
      profile: ProfileSchema.pick({ username: true, address: true, displayName: true, bio: true, avatarUrl: true, postCount: true, createdAt: true }),
      local: z.boolean(),
      me: z.boolean(),
      following: z.boolean(),
      followsMe: z.boolean(),
      blocked: z.boolean(),
      muted: z.boolean(),
      pinnedPost: z.string().optional(),
      /** While my site reaches their site through a friend's relay: through whom, since when. */
      relayedVia: z.object({ relay: address, since: iso }).optional(),
    }),
  }),
  /** Names and pictures my site knows for these addresses (no fetching): for lists of people. */
  names: route({
    method: 'GET',
    path: '/api/people',
    query: z.object({ addresses: z.string().max(50 * 300) }),
    status: 200,
    response: z.object({ items: z.array(PersonSchema) }),
  }),
  personPosts: route({ method: 'GET', path: '/api/people/:address/posts', params: AddressParam, query: z.object({ limit: pageLimit(50, 20), before: cursor.optional() }), status: 200, response: PageSchema(PostViewSchema) }),
  personPost: route({ method: 'GET', path: '/api/people/:address/posts/:id', params: AddressParam.extend({ id }), status: 200, response: PostDetailSchema }),

  // Comments, likes, blocks, notifications
  comment: route({
    method: 'POST',
    path: '/api/comments',
    body: z.strictObject({
      post: PostRef,
      text: z.string().trim().min(1, 'a comment needs some text').max(LIMITS.commentChars, `a comment may be at most ${LIMITS.commentChars} characters`),
      /** The comment (of the same post) this one answers. */
      replyTo: id.optional(),
    }),
    status: 202,
    response: CommentViewSchema.omit({ author: true }).extend({ post: z.object({ author: z.string(), id: z.string() }), status: z.literal('sending') }),
  }),
  deleteComment: route({ method: 'DELETE', path: '/api/posts/:postId/comments/:commentId', params: z.object({ postId: z.string(), commentId: z.string() }), status: 204, response: null }),
  like: route({ method: 'POST', path: '/api/likes', body: z.strictObject({ post: PostRef }), status: 202, response: z.object({ post: z.object({ author: z.string(), id: z.string() }), liked: z.boolean() }) }),
  unlike: route({ method: 'DELETE', path: '/api/likes', query: PostRef, status: 202, response: z.object({ post: z.object({ author: z.string(), id: z.string() }), liked: z.boolean() }) }),
  block: route({ method: 'POST', path: '/api/blocks', body: AddressBody, status: 201, response: z.object({ address: z.string(), blocked: z.literal(true) }) }),
  blocks: route({ method: 'GET', path: '/api/blocks', status: 200, response: AddressList }),
  unblock: route({ method: 'DELETE', path: '/api/blocks/:address', params: AddressParam, status: 204, response: null }),
  mute: route({ method: 'POST', path: '/api/mutes', body: AddressBody, status: 201, response: z.object({ address: z.string(), muted: z.literal(true) }) }),
  mutes: route({ method: 'GET', path: '/api/mutes', status: 200, response: AddressList }),
  unmute: route({ method: 'DELETE', path: '/api/mutes/:address', params: AddressParam, status: 204, response: null }),
  search: route({
    method: 'GET',
    path: '/api/search',
    query: z.object({ q: z.string().trim().min(1, 'type something to search for').max(200), limit: pageLimit(50, 20) }),
    status: 200,
    response: z.object({
      /** People whose name or address matches (here, and those my site knows), and the person an address or link names. */
      people: z.array(PersonSchema),
      /** Posts of this site and of my feed whose words match, newest first. */
      posts: z.array(PostViewSchema),
    }),
  }),
  notifications: route({
    method: 'GET',
    path: '/api/notifications',
    // With `after`: what came after that seq, oldest first (to catch up). Without: newest first,
    // older pages with `before`.
    query: z.object({ after: z.coerce.number().int().min(0).optional(), before: z.coerce.number().int().min(1).optional(), limit: pageLimit(200, 50) }),
    status: 200,
    response: z.object({ items: z.array(NotificationSchema), unread: count }),
  }),
  markNotificationsRead: route({ method: 'POST', path: '/api/notifications/read', body: z.strictObject({ upTo: z.number().int().min(0) }), status: 200, response: z.object({ unread: count }) }),

  // Media
  upload: route({ method: 'POST', path: '/api/media', status: 201, response: z.object({ id: z.string(), url: z.string(), type: z.string(), width: z.number(), height: z.number(), bytes: z.number() }) }),

  // Devices, keys, direct messages
  addDevice: route({ method: 'POST', path: '/api/devices', body: NewDeviceSchema, status: 201, response: z.object({ id: z.string(), name: z.string() }) }),
  devices: route({
    method: 'GET',
    path: '/api/devices',
    status: 200,
    response: z.object({ items: z.array(z.object({ id: z.string(), name: z.string(), kind: z.enum(['browser', 'vault', 'other']), createdAt: iso, lastUsedAt: iso.nullable() })) }),
  }),
  deviceSeen: route({ method: 'POST', path: '/api/devices/:id/seen', params: z.object({ id: z.string() }), status: 204, response: null }),
  removeUnusedDevices: route({
    method: 'DELETE',
    path: '/api/devices',
    // Browsers (not the vault, not the CLI) unused for this many days, except the one asking.
    query: z.object({ unusedDays: z.coerce.number().int().min(0).max(3650).default(30), keep: z.string().max(64).optional() }),
    status: 200,
    response: z.object({ removed: count }),
  }),
  removeDevice: route({ method: 'DELETE', path: '/api/devices/:id', params: z.object({ id: z.string() }), status: 204, response: null }),
  putKeyBackup: route({ method: 'PUT', path: '/api/key-backup', body: z.strictObject({ backup: KeyBackupSchema }), status: 204, response: null }),
  keyBackup: route({ method: 'GET', path: '/api/key-backup', status: 200, response: z.object({ backup: KeyBackupSchema, identityKey: z.string().nullable() }) }),
  lookup: route({ method: 'GET', path: '/api/lookup', query: z.object({ address }), status: 200, response: ProfileSchema }),
  sendDm: route({ method: 'POST', path: '/api/dms', body: z.strictObject({ to: address, message: DmCiphertextSchema }), status: 202, response: z.object({ id: z.string(), to: z.string(), status: z.literal('sending') }) }),
  // Many sealed DMs in one request, each sent or refused on its own: `items[i]` answers `messages[i]`.
  sendDms: route({
    method: 'POST',
    path: '/api/dms/batch',
    body: z.strictObject({
      messages: z
        .array(z.strictObject({ to: address, message: DmCiphertextSchema }))
        .min(1, 'send at least one message')
        .max(LIMITS.dmBatch, `a batch may carry at most ${LIMITS.dmBatch} messages`),
    }),
    status: 202,
    response: z.object({
      items: z.array(
        z.union([
          z.object({ id: z.string(), to: z.string(), status: z.literal('sending') }),
          z.object({ to: z.string(), status: z.literal('refused'), error: z.object({ code: z.string(), message: z.string() }) }),
        ]),
      ),
    }),
  }),
  dms: route({
    method: 'GET',
    path: '/api/dms',
    query: z.object({ after: z.coerce.number().int().min(0).default(0), limit: pageLimit(500, 100) }),
    status: 200,
    response: z.object({
      items: z.array(z.object({ seq: z.number().int(), id: z.string(), direction: z.enum(['in', 'out']), peer: z.string(), message: DmCiphertextSchema, createdAt: iso })),
      next: z.number().int().nullable(),
    }),
  }),

  // Calls
  callSignal: route({ method: 'POST', path: '/api/calls/signal', body: z.strictObject({ to: address, callId: id, sealed: CallSealedSchema }), status: 202, response: z.object({ delivered: z.literal(true) }) }),
  callAllowed: route({ method: 'GET', path: '/api/calls/allowed', status: 200, response: AddressList }),
  allowCalls: route({ method: 'POST', path: '/api/calls/allowed', body: AddressBody, status: 201, response: z.object({ address: z.string(), allowed: z.literal(true) }) }),
  disallowCalls: route({ method: 'DELETE', path: '/api/calls/allowed/:address', params: AddressParam, status: 204, response: null }),
  turnCredentials: route({ method: 'GET', path: '/api/turn-credentials', status: 200, response: z.object({ urls: z.array(z.string()), username: z.string(), credential: z.string(), ttl: z.number() }) }),

  // Home vault
  pairingCode: route({ method: 'POST', path: '/api/vault/pairing-code', status: 201, response: z.object({ code: z.string(), expiresAt: iso }) }),
  vault: route({
    method: 'GET',
    path: '/api/vault',
    status: 200,
    response: z.object({ paired: z.boolean(), deviceId: z.string().optional(), pairedAt: iso.optional(), online: z.boolean().optional(), lastSeenAt: iso.nullable().optional(), waiting: count.optional() }),
  }),
  unpairVault: route({ method: 'DELETE', path: '/api/vault', status: 204, response: null }),
  vaultPairStart: route({
    method: 'POST',
    path: '/api/vault/pair/start', public: true,
    body: z.strictObject({ code: z.string().min(1).max(64) }),
    status: 200,
    response: z.object({ address: z.string(), origin: z.string(), identityKey: z.string().nullable(), backup: KeyBackupSchema.nullable() }),
  }),
  vaultPair: route({
    method: 'POST',
    path: '/api/vault/pair', public: true,
    body: z.strictObject({ code: z.string().min(1).max(64), device: NewDeviceSchema, backup: KeyBackupSchema.optional() }),
    status: 201,
    response: z.object({ address: z.string(), deviceId: z.string(), origin: z.string() }),
  }),
  vaultRequest: route({ method: 'POST', path: '/api/vault/request', body: z.strictObject({ sealed: SealedSchema }), status: 200, response: z.object({ sealed: SealedSchema }) }),
  // Friends relay (PROTOCOL.md §9): whom I relay for, the relays I use, and the path to each site.
  relayFriends: route({ method: 'GET', path: '/api/relay/friends', status: 200, response: z.object({ friends: z.array(RelayFriendSchema), mutuals: z.boolean() }) }),
  relaySettings: route({ method: 'PUT', path: '/api/relay/settings', body: z.strictObject({ mutuals: z.boolean() }), status: 200, response: z.object({ mutuals: z.boolean() }) }),
  relayFriendPut: route({ method: 'POST', path: '/api/relay/friends', body: RelayFriendBody, status: 200, response: RelayFriendSchema }),
  relayFriendRemove: route({ method: 'DELETE', path: '/api/relay/friends/:address', params: AddressParam, status: 204, response: null }),
  myRelays: route({ method: 'GET', path: '/api/relay/mine', status: 200, response: z.object({ relays: z.array(address) }) }),
  myRelayAdd: route({ method: 'POST', path: '/api/relay/mine', body: AddressBody, status: 200, response: z.object({ relays: z.array(address) }) }),
  myRelayRemove: route({ method: 'DELETE', path: '/api/relay/mine/:address', params: AddressParam, status: 204, response: null }),
  relayPaths: route({ method: 'GET', path: '/api/relay/paths', status: 200, response: z.object({ paths: z.array(RelayPathSchema) }) }),
} as const satisfies Record<string, RouteContract>;

export type ApiRouteName = keyof typeof API;
type Infer<S> = S extends z.ZodType ? z.infer<S> : undefined;
/** What a route answers with on success. */
export type ApiResponse<K extends ApiRouteName> = Infer<(typeof API)[K]['response']>;
/** The JSON body a route takes (as sent: defaults not yet applied). */
export type ApiBody<K extends ApiRouteName> = (typeof API)[K] extends { body: infer B extends z.ZodType } ? z.input<B> : undefined;

export type Profile = z.infer<typeof ProfileSchema>;
export type PostView = z.infer<typeof PostViewSchema>;
export type PostDetail = z.infer<typeof PostDetailSchema>;
export type CommentView = z.infer<typeof CommentViewSchema>;
export type NotificationView = z.infer<typeof NotificationSchema>;
export type Page<T> = { items: T[]; next: string | null };

// ---- Live events (GET /api/live, a WebSocket) --------------------------------------------

/** What my site pushes to my open pages over /api/live, after `{"token"}` is sent. */
export const LiveEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  /** Something changed in my feed (a post arrived, was edited or deleted). */
  z.object({ type: z.literal('feed') }),
  /** A new notification; `kind` as in GET /api/notifications. A new DM (`kind: "dm"`) has `seq`, its place in GET /api/dms. */
  z.object({ type: z.literal('notification'), kind: z.string(), seq: z.number().int().optional() }),
  /** A sealed call signal for one of my browsers (opened by the call module). */
  z.object({ type: z.literal('call'), from: z.string(), callId: z.string(), sealed: CallSealedSchema }),
]);
export type LiveEvent = z.infer<typeof LiveEventSchema>;
