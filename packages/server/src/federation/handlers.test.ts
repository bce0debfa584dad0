import crypto from 'node:crypto';
import path from 'node:path';
import { createEnvelope, generateSigningKeyPair, nobleSigner, TYPES, type DmCiphertext, type Envelope } from '@hearth/protocol';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../../../tests/helpers/scratch.js';
import dmVector from '../../../protocol/test-vectors/dm.json' with { type: 'json' };
import { migrateToLatest, openSqlite } from '../storage/db.js';
import { HANDLERS, type HandlerContext } from './handlers.js';

const dir = scratchDir('handlers');

describe('a DM that arrives', () => {
  it('makes one "new message" notification per sender for the DMs that arrive together, and one each when they come apart', async () => {
    const db = openSqlite({ file: path.join(dir, 'dm.db') });
    try {
      await migrateToLatest(db);
      const keys = generateSigningKeyPair();
      await db.insertInto('users').values({ username: 'alice', display_name: 'Alice', password_hash: 'x', site_secret_key: keys.secretKey, site_public_key: keys.publicKey, created_at: 0 }).execute();
      const sender = generateSigningKeyPair();
      const dmFrom = (username: string): Envelope<typeof TYPES.dm> => {
        // Each its own sealed message (a new ephemeral key), as every real DM is.
        const message = { ...(dmVector.message as DmCiphertext), ephemeralKey: crypto.randomBytes(32).toString('base64url') };
        return createEnvelope({ type: TYPES.dm, from: { username, host: 'bob.example', port: 443 }, to: { username: 'alice', host: 'alice.example', port: 443 }, data: { message } }, nobleSigner(sender));
      };
      const hc = {} as HandlerContext; // the DM handler needs no cached lookups
      const notes = async () => (await db.selectFrom('notifications').select(['kind', 'data']).orderBy('seq').execute()).map((n) => `${n.kind} ${n.data}`);
      // Five from bob and two from carol in one transaction, as a group commit runs them.
      await db.transaction().execute(async (trx) => {
        for (const from of ['bob', 'bob', 'carol', 'bob', 'bob', 'carol', 'bob']) await HANDLERS[TYPES.dm](trx, dmFrom(from), 1000, hc);
      });
      expect(await notes()).toEqual(['message {"from":"bob@bob.example"}', 'message {"from":"carol@bob.example"}']);
      expect(Number((await db.selectFrom('dm_messages').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(7);
      // Apart (a transaction each, or none), each makes its own.
      await db.transaction().execute((trx) => HANDLERS[TYPES.dm](trx, dmFrom('bob'), 2000, hc));
      await HANDLERS[TYPES.dm](db, dmFrom('bob'), 3000, hc);
      expect((await notes()).slice(2)).toEqual(['message {"from":"bob@bob.example"}', 'message {"from":"bob@bob.example"}']);
    } finally {
      await db.destroy();
    }
  });
});
