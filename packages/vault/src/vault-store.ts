import crypto from 'node:crypto';
import { HearthError } from '@hearth/protocol';
import { nodeSymmetric } from '@hearth/protocol/node';
import SQLite from 'better-sqlite3';

/**
 * The home vault's private store: the owner's message history, in SQLite, sealed under a key
 * derived from the owner's passphrase. Each message body is XChaCha20-Poly1305 with the message
 * id as associated data, so rows cannot be swapped; conversations are found by a keyed tag of the
 * peer's address, never the address itself. Without the passphrase the file shows ids and sizes.
 */
export class VaultError extends HearthError {
  constructor(code: string, message: string) {
    super(code, message, { status: 400 });
    this.name = 'VaultError';
  }
}

export interface VaultMessage {
  id: string;
  from: string;
  to: string;
  sentAt: string;
  text: string;
}

/** Argon2id, the OWASP profile for a device that derives a key rarely: 64 MiB, 3 passes. */
export const KDF = { algorithm: 2 /* Argon2id */, memoryCost: 65536, timeCost: 3, parallelism: 1, outputLen: 32 } as const;
const CHECK = new TextEncoder().encode('hearth-vault-v1 check');
const SCHEMA_VERSION = 1;
const utf8 = new TextEncoder();

/** Every Database and Statement is held for the process's life: better-sqlite3 12 aborts Node 24 when the GC finalizes one. */
const keptAlive: object[] = [];

export class VaultStore {
  private readonly statements = new Map<string, SQLite.Statement>();
  private readonly peerTags = new Map<string, Buffer>();
  /** How many messages the store holds, counted once and then kept up to date by add(). */
  private total: number | undefined;

  private constructor(
    private readonly db: SQLite.Database,
    private readonly encKey: Uint8Array,
    private readonly tagKey: Uint8Array,
  ) {}

  /** Opens (or creates) the store. A wrong passphrase is refused before anything is written. */
  static async open(options: { file: string; passphrase: string; kdf?: Partial<typeof KDF> }): Promise<VaultStore> {
    if (options.passphrase.length < 8) throw new VaultError('weak_passphrase', 'the vault passphrase must have at least 8 characters');
    const db = new SQLite(options.file);
    keptAlive.push(db);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    const kept = (sql: string) => {
      const statement = db.prepare(sql);
      keptAlive.push(statement);
      return statement;
    };
    const version = Number((kept('PRAGMA user_version').get() as { user_version: number }).user_version);
    if (version === 0) {
      db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, peer_tag BLOB NOT NULL, nonce BLOB NOT NULL, body BLOB NOT NULL);
        CREATE INDEX messages_by_peer ON messages (peer_tag, seq);`);
    } else if (version !== SCHEMA_VERSION) {
      db.close();
      throw new VaultError('unsupported_vault', `this vault was written by a newer Hearth (schema ${version})`);
    }
    const select = version === 0 ? undefined : kept('SELECT value FROM meta WHERE key = ?');
    const read = (key: string) => (select!.get(key) as { value: Buffer } | undefined)?.value;
    const kdf = version === 0 ? { ...KDF, ...options.kdf } : (JSON.parse(read('kdf')!.toString()) as typeof KDF);
    const salt = version === 0 ? crypto.randomBytes(16) : read('salt')!;
    const { hashRaw } = await import('@node-rs/argon2');
    const master = new Uint8Array(await hashRaw(options.passphrase, { ...kdf, salt }));
    const encKey = nodeSymmetric.hkdfSha256(master, undefined, new TextEncoder().encode('hearth-vault-v1 messages'), 32);
    const tagKey = nodeSymmetric.hkdfSha256(master, undefined, new TextEncoder().encode('hearth-vault-v1 peer tags'), 32);
    if (version === 0) {
      const nonce = crypto.randomBytes(24);
      const check = Buffer.concat([nonce, nodeSymmetric.xchacha20poly1305(encKey, nonce, CHECK).encrypt(CHECK)]);
      const insert = kept('INSERT INTO meta (key, value) VALUES (?, ?)');
      db.transaction(() => {
        insert.run('salt', salt);
        insert.run('kdf', Buffer.from(JSON.stringify(kdf)));
        insert.run('check', check);
        db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      })();
    } else {
      const check = read('check')!;
      try {
        nodeSymmetric.xchacha20poly1305(encKey, check.subarray(0, 24), CHECK).decrypt(check.subarray(24));
      } catch {
        db.close();
        throw new VaultError('wrong_passphrase', 'the passphrase does not open this vault; nothing was changed');
      }
    }
    return new VaultStore(db, encKey, tagKey);
  }

  private prepare(sql: string): SQLite.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
      keptAlive.push(statement);
    }
    return statement;
  }

  private peerTag(message: Pick<VaultMessage, 'from' | 'to'>, me: string): Buffer {
    const peer = message.from === me ? message.to : message.from;
    // A keyed hash is the same for every message with a person: computed once per person.
    let tag = this.peerTags.get(peer);
    if (!tag) {
      tag = crypto.createHmac('sha256', this.tagKey).update(peer, 'utf8').digest();
      if (this.peerTags.size >= 1_000) this.peerTags.clear();
      this.peerTags.set(peer, tag);
    }
    return tag;
  }

  /** Stores messages once each (by id): returns how many were new. One transaction for the batch. */
  add(me: string, messages: VaultMessage[]): number {
    const insert = this.prepare('INSERT INTO messages (id, peer_tag, nonce, body) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING');
    // Every nonce of the batch from one call to the system's random source (a call per message costs more than the sealing).
    const nonces = crypto.randomBytes(24 * messages.length);
    let added = 0;
    this.db.transaction(() => {
      for (const [i, message] of messages.entries()) {
        const nonce = nonces.subarray(24 * i, 24 * (i + 1));
        const body = nodeSymmetric.xchacha20poly1305(this.encKey, nonce, utf8.encode(message.id)).encrypt(utf8.encode(JSON.stringify(message)));
        added += insert.run(message.id, this.peerTag(message, me), nonce, body).changes;
      }
    })();
    if (this.total !== undefined) this.total += added;
    return added;
  }

  /** The history, oldest first; only the conversation with `peer` when given. */
  list(me: string, peer?: string): VaultMessage[] {
    const rows = (peer
      ? this.prepare('SELECT id, nonce, body FROM messages WHERE peer_tag = ? ORDER BY seq').all(this.peerTag({ from: peer, to: me }, me))
      : this.prepare('SELECT id, nonce, body FROM messages ORDER BY seq').all()) as Array<{ id: string; nonce: Buffer; body: Buffer }>;
    return rows.map((row) => this.openRow(row));
  }

  /**
   * A page of history with the vault's sequence numbers, for a device that asks for it. Pages
   * stop at `maxBytes` of JSON (at least one message), so an answer fits the backend's frame limit.
   */
  page(me: string, options: { after: number; limit: number; peer?: string; maxBytes?: number }): { messages: Array<VaultMessage & { seq: number }>; next: number | null } {
    const rows = (options.peer
      ? this.prepare('SELECT seq, id, nonce, body FROM messages WHERE peer_tag = ? AND seq > ? ORDER BY seq LIMIT ?').all(this.peerTag({ from: options.peer, to: me }, me), options.after, options.limit + 1)
      : this.prepare('SELECT seq, id, nonce, body FROM messages WHERE seq > ? ORDER BY seq LIMIT ?').all(options.after, options.limit + 1)) as Array<{ seq: number; id: string; nonce: Buffer; body: Buffer }>;
    const messages: Array<VaultMessage & { seq: number }> = [];
    let bytes = 0;
    for (const row of rows.slice(0, options.limit)) {
      const message = { seq: Number(row.seq), ...this.openRow(row) };
      bytes += JSON.stringify(message).length;
      if (messages.length > 0 && bytes > (options.maxBytes ?? Infinity)) break;
      messages.push(message);
    }
    const more = messages.length < rows.length;
    return { messages, next: more ? messages[messages.length - 1]!.seq : null };
  }

  private openRow(row: { id: string; nonce: Buffer; body: Buffer }): VaultMessage {
    try {
      return JSON.parse(new TextDecoder().decode(nodeSymmetric.xchacha20poly1305(this.encKey, row.nonce, new TextEncoder().encode(row.id)).decrypt(row.body))) as VaultMessage;
    } catch {
      throw new VaultError('vault_damaged', `message ${row.id} in the vault is damaged or was tampered with`);
    }
  }

  /** A sealed value (keys, contacts, the vault's settings), bound to its name. */
  setSecret(name: string, value: unknown): void {
    const nonce = crypto.randomBytes(24);
    const body = nodeSymmetric.xchacha20poly1305(this.encKey, nonce, new TextEncoder().encode(`secret:${name}`)).encrypt(new TextEncoder().encode(JSON.stringify(value)));
    this.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(`secret:${name}`, Buffer.concat([nonce, body]));
  }

  getSecret<T>(name: string): T | undefined {
    const row = this.prepare('SELECT value FROM meta WHERE key = ?').get(`secret:${name}`) as { value: Buffer } | undefined;
    if (!row) return undefined;
    try {
      const plain = nodeSymmetric.xchacha20poly1305(this.encKey, row.value.subarray(0, 24), new TextEncoder().encode(`secret:${name}`)).decrypt(row.value.subarray(24));
      return JSON.parse(new TextDecoder().decode(plain)) as T;
    } catch {
      throw new VaultError('vault_damaged', `the vault's ${name} is damaged or was tampered with`);
    }
  }

  /** A consistent copy of the whole (still sealed) store, safe while the vault runs. */
  async backupTo(file: string): Promise<void> {
    await this.db.backup(file);
  }

  /**
   * How many messages the store holds. Counting the rows takes time in proportion to them, and
   * the link reports the total after every chunk it stores: it is counted once, then kept.
   */
  count(): number {
    this.total ??= Number((this.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n);
    return this.total;
  }

  close(): void {
    this.db.close();
  }
}
