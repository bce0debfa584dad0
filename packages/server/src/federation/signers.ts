import { HearthError, type Signer } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { nodeSigner } from '../crypto/node-signing.js';
import { compiledOnce } from '../storage/compiled.js';
import { perTransaction } from '../storage/per-transaction.js';
import type { Database } from '../storage/schema.js';
import { findUser } from '../storage/users.js';

const selectSiteKey = compiledOnce((db, v: { username: string }) => db.selectFrom('users').select('site_public_key').where('username', '=', v.username));
/** Read once per transaction: a batch of DMs signs a hundred envelopes in one. */
const currentSiteKey = perTransaction((v: { username: string }) => v.username, async (db, v: { username: string }) => (await selectSiteKey(db, v)).rows[0]);

/** The site keys of this site's users, as signers, kept once made. */
export class SiteSigners {
  private readonly signers = new Map<string, Signer>();

  constructor(private readonly db: Kysely<Database>) {}

  /**
   * The site key of a local user. Pass the open transaction when inside one: SQLite has a single
   * connection, and a query on `db` would wait for the transaction forever.
   */
  async signerFor(username: string, executor: Kysely<Database> = this.db): Promise<Signer> {
    // The current public key is read each time (a primary-key lookup), or once per transaction
    // inside one: a rotation by another process (`hearth user rotate-key`, another instance) takes
    // effect here at the next envelope outside a transaction, and at the next transaction.
    const current = await currentSiteKey(executor, { username });
    if (!current) throw new HearthError('unknown_user', `no user ${username} here`, { status: 404 });
    let signer = this.signers.get(username);
    if (!signer || signer.publicKey !== current.site_public_key) {
      const user = await findUser(executor, username);
      if (!user) throw new HearthError('unknown_user', `no user ${username} here`, { status: 404 });
      signer = nodeSigner({ publicKey: user.site_public_key, secretKey: user.site_secret_key });
      this.signers.set(username, signer);
    }
    return signer;
  }
}
