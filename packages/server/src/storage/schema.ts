import type { Generated } from 'kysely';

/** Table types for kysely. Times are epoch milliseconds (integers) so SQLite and PostgreSQL agree. */
export interface UsersTable {
  username: string;
  display_name: string;
  bio: string;
  avatar_url: string;
  password_hash: string;
  site_secret_key: string;
  site_public_key: string;
  identity_key: string | null;
  key_backup: string | null;
  created_at: number;
  /** JSON of the rotation notice signed by the previous site key (PROTOCOL.md §3), after a rotation. */
  site_key_rotation?: string | null;
  pinned_post?: string | null;
  /** 1: also relay for everyone this user follows who follows them back (PROTOCOL.md §9). */
  relay_mutuals?: number;
}

export interface SessionsTable {
  token_hash: string;
  username: string;
  created_at: number;
  expires_at: number;
}

export interface DevicesTable {
  id: string;
  username: string;
  name: string;
  sign_key: string;
  dh_key: string;
  cert: string;
  created_at: number;
  last_used_at?: number | null;
}

export interface PostsTable {
  id: string;
  author: string;
  text: string;
  created_at: number;
  /** JSON array of Attachment, or null. */
  attachments: string | null;
  /** This site's post sequence (site_meta post_seq): the order posts were made, whatever the wall clock said. */
  seq?: number | null;
  /** When the author last edited it (null: never). */
  edited_at?: number | null;
  content_warning?: string | null;
}

export interface MediaTable {
  id: string;
  owner: string;
  type: string;
  file: string;
  bytes: number;
  width: number;
  height: number;
  created_at: number;
}

export interface RemotePostsTable {
  author: string;
  id: string;
  text: string;
  created_at: number;
  received_at: number;
  attachments: string | null;
  edited_at?: number | null;
  content_warning?: string | null;
  /** Counts as the author's site last told us (null: not known). */
  like_count?: number | null;
  comment_count?: number | null;
}

export interface MyLikesTable {
  username: string;
  author: string;
  post_id: string;
  created_at: number;
}

export interface RemoteProfilesTable {
  address: string;
  display_name: string;
  avatar_url: string;
  fetched_at: number;
}

export interface FollowingTable {
  username: string;
  target: string;
  created_at: number;
  etag: string | null;
  last_pulled_at: number | null;
  /** The highest author-site post sequence pulled so far (null: the author's site gives none). */
  pull_seq?: number | null;
}

export interface FollowersTable {
  username: string;
  follower: string;
  created_at: number;
}

export interface CommentsTable {
  id: string;
  post_id: string;
  author: string;
  text: string;
  created_at: number;
  reply_to?: string | null;
}

export interface LikesTable {
  post_id: string;
  author: string;
  created_at: number;
}

export interface BlocksTable {
  username: string;
  address: string;
  created_at: number;
}

export interface DmMessagesTable {
  seq: Generated<number>;
  username: string;
  envelope_id: string;
  direction: 'in' | 'out';
  peer: string;
  ciphertext: string;
  created_at: number;
  /** The DM's ephemeral key: one sealed message is stored once per account, whatever envelope carried it. */
  message_key?: string | null;
}

export interface OutboxTable {
  seq: Generated<number>;
  envelope_id: string;
  sender: string;
  dest_host: string;
  dest_port: number;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  status: 'pending' | 'failed';
  last_error: string | null;
  /** The body's size in UTF-8 bytes (null for rows written before this column existed). */
  size?: number | null;
  /** Taken for delivery until then (site clock), or null. */
  claimed_until?: number | null;
  /** With several instances: which one took it (see outbox_instances). */
  claimed_by?: string | null;
}

/** The rest of a fan-out to many followers, stepped after the post's commit (outbox/fanout.ts). */
export interface FanoutJobsTable {
  id: string;
  username: string;
  type: string;
  /** The envelope's data (JSON), the same for every follower. */
  data: string;
  /** Followers (address text, JSON array) whose envelope went with the post itself. */
  skip: string;
  /** The last follower (address text) stepped past; '' before the first step. */
  after: string;
  created_at: number;
}

/** Instances of the site that hold outbox claims, and when each last said it is alive. */
export interface OutboxInstancesTable {
  id: string;
  heartbeat_at: number;
}

export interface InboxSeenTable {
  envelope_id: string;
  received_at: number;
}

export interface RemoteKeysTable {
  subject: string;
  public_key: string;
  fetched_at: number;
}

export interface NotificationsTable {
  seq: Generated<number>;
  username: string;
  kind: string;
  data: string;
  created_at: number;
  read_at: number | null;
}

export interface VaultPairingCodesTable {
  username: string;
  code_hash: string;
  expires_at: number;
}

export interface VaultsTable {
  username: string;
  device_id: string;
  paired_at: number;
  last_seen_at: number | null;
}

export interface VaultQueueTable {
  seq: Generated<number>;
  username: string;
  envelope_id: string;
  direction: 'in' | 'out';
  peer: string;
  ciphertext: string;
  created_at: number;
}

export interface CallAllowTable {
  username: string;
  address: string;
  created_at: number;
}

export interface RemotePostTombstonesTable {
  author: string;
  id: string;
  deleted_at: number;
}

export interface CommentTombstonesTable {
  id: string;
  post_id: string;
  author: string;
  deleted_at: number;
}

export interface SiteMetaTable {
  key: string;
  value: string;
}

/** The JSON text of each queued envelope, apart from the outbox's small columns (migration 006). */
export interface OutboxBodiesTable {
  seq: number;
  body: string;
}

export interface MutesTable {
  username: string;
  address: string;
  created_at: number;
}

export interface RepostsTable {
  username: string;
  author: string;
  post_id: string;
  created_at: number;
}

export interface SharedPostsTable {
  sharer: string;
  author: string;
  post_id: string;
  shared_at: number;
}

export interface RelayFriendsTable {
  owner: string;
  address: string;
  per_minute: number;
  bytes_per_day: number;
  created_at: number;
}

export interface RelayStatsTable {
  owner: string;
  address: string;
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  envelopes: number;
  bytes: number;
  refused: number;
}

export interface MyRelaysTable {
  username: string;
  address: string;
  position: number;
  created_at: number;
}

export interface RelayAdvertsTable {
  /** The site, host:port. */
  site: string;
  relay_key: string;
  /** JSON array of relay addresses. */
  relays: string;
  fetched_at: number;
}

export interface RelayPathsTable {
  /** The destination site, host:port. */
  dest: string;
  /** The relay in use (an address), or null for the direct path. */
  via: string | null;
  since: number;
  direct_failures: number;
  /** When the direct path is tried again (site clock), while a relay is in use. */
  next_probe_at: number;
}

export interface Database {
  relay_friends: RelayFriendsTable;
  relay_stats: RelayStatsTable;
  my_relays: MyRelaysTable;
  relay_paths: RelayPathsTable;
  relay_adverts: RelayAdvertsTable;
  mutes: MutesTable;
  reposts: RepostsTable;
  shared_posts: SharedPostsTable;
  my_likes: MyLikesTable;
  remote_profiles: RemoteProfilesTable;
  outbox_bodies: OutboxBodiesTable;
  site_meta: SiteMetaTable;
  remote_post_tombstones: RemotePostTombstonesTable;
  comment_tombstones: CommentTombstonesTable;
  users: UsersTable;
  sessions: SessionsTable;
  devices: DevicesTable;
  posts: PostsTable;
  media: MediaTable;
  remote_posts: RemotePostsTable;
  following: FollowingTable;
  followers: FollowersTable;
  comments: CommentsTable;
  likes: LikesTable;
  blocks: BlocksTable;
  dm_messages: DmMessagesTable;
  outbox: OutboxTable;
  outbox_instances: OutboxInstancesTable;
  fanout_jobs: FanoutJobsTable;
  inbox_seen: InboxSeenTable;
  remote_keys: RemoteKeysTable;
  notifications: NotificationsTable;
  vault_pairing_codes: VaultPairingCodesTable;
  vaults: VaultsTable;
  vault_queue: VaultQueueTable;
  call_allow: CallAllowTable;
}
