import { sql, type Kysely } from 'kysely';
import { sequenceColumn } from '../dialect.js';

/**
 * The home vault: one per user. Pairing codes are stored hashed and used once; the queue holds,
 * per user, the DM ciphertexts (only the vault's wrapped key) that the vault has not acked yet.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const sequence = sequenceColumn(db);
  await db.schema
    .createTable('vault_pairing_codes')
    .addColumn('username', 'text', (c) => c.primaryKey().references('users.username').onDelete('cascade'))
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('vaults')
    .addColumn('username', 'text', (c) => c.primaryKey().references('users.username').onDelete('cascade'))
    .addColumn('device_id', 'text', (c) => c.notNull().unique())
    .addColumn('paired_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint')
    .execute();
  await db.schema
    .createTable('vault_queue')
    .addColumn('seq', sql.raw(sequence.type) as any, sequence.build)
    .addColumn('username', 'text', (c) => c.notNull().references('users.username').onDelete('cascade'))
    .addColumn('envelope_id', 'text', (c) => c.notNull())
    .addColumn('direction', 'text', (c) => c.notNull())
    .addColumn('peer', 'text', (c) => c.notNull())
    .addColumn('ciphertext', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('vault_queue_once', ['username', 'envelope_id'])
    .execute();
  await db.schema.createIndex('vault_queue_by_user').on('vault_queue').columns(['username', 'seq']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['vault_queue', 'vaults', 'vault_pairing_codes']) await db.schema.dropTable(table).ifExists().execute();
}
