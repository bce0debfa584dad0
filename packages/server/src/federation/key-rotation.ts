import { createEnvelope, generateSigningKeyPair, HearthError, signSiteKeyRotation, type Envelope, type SiteName } from '@hearth/protocol';
import { nodeSigner } from '../crypto/node-signing.js';
import type { Db } from '../storage/db.js';
import { findUser, localAddressText } from '../storage/users.js';

/**
 * Rotates a user's site key (PROTOCOL.md §3 "Key lifecycle"), in one transaction:
 * - a new key pair, and a rotation notice signed by the old key, which the profile publishes;
 * - every envelope still queued in the outbox for this user is signed again with the new key,
 *   so nothing waiting to be delivered depends on the key that is being retired.
 * Receivers learn the new key at their next fetch of the profile (at the first envelope that the
 * old key does not verify, or when their cached key expires) and refuse the old key from then on.
 */
export async function rotateSiteKey(db: Db, site: SiteName, username: string, now: number): Promise<{ publicKey: string; previous: string; resigned: number }> {
  return db.transaction().execute(async (trx) => {
    const user = await findUser(trx, username);
    if (!user) throw new HearthError('not_found', `user ${username} was not found`, { status: 404 });
    const oldSigner = nodeSigner({ publicKey: user.site_public_key, secretKey: user.site_secret_key });
    const fresh = generateSigningKeyPair();
    const address = localAddressText(site, username);
    const notice = signSiteKeyRotation(oldSigner, { address, key: fresh.publicKey, at: new Date(now).toISOString() });
    await trx
      .updateTable('users')
      .set({ site_public_key: fresh.publicKey, site_secret_key: fresh.secretKey, site_key_rotation: JSON.stringify(notice) })
      .where('username', '=', username)
      .execute();
    const signer = nodeSigner(fresh);
    const queued = await trx
      .selectFrom('outbox')
      .innerJoin('outbox_bodies', 'outbox_bodies.seq', 'outbox.seq')
      .select(['outbox.seq as seq', 'outbox_bodies.body as body'])
      .where('outbox.sender', '=', address)
      .where('outbox.status', '=', 'pending')
      .execute();
    for (const row of queued) {
      const env = JSON.parse(row.body) as Envelope;
      // The same envelope (id, ts, data), signed by the new key.
      const resigned = createEnvelope({ ...env, id: env.id, ts: env.ts }, signer);
      await trx.updateTable('outbox_bodies').set({ body: JSON.stringify(resigned) }).where('seq', '=', row.seq).execute();
    }
    return { publicKey: fresh.publicKey, previous: oldSigner.publicKey, resigned: queued.length };
  });
}
