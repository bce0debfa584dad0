import { contractRoute } from '../http-contract.js';
import { formatAddress, HearthError, LIMITS, TYPES, type DmCiphertext, type KeyBackup } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { parseAddressInput, requireUser } from '../http-helpers.js';
import { queueEnvelope } from '../outbox/send.js';
import { lookupProfile } from '../federation/profiles.js';
import { rowsAfter } from '../storage/sequenced.js';
import { findUser } from '../storage/users.js';
import { removeVault } from '../storage/vault.js';
import { DM_ONCE, recordDm } from '../storage/dms.js';
import { isUniqueViolation } from '../storage/storage-errors.js';
import { addDevice } from '../storage/devices.js';


/**
 * A batch carries up to LIMITS.dmBatch messages, so it has a budget of its own, apart from the
 * site's requests per minute: 60 batches, up to 6,000 DMs a minute from one client.
 */
const DM_BATCHES_PER_MINUTE = 60;

export const dmRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  /**
   * Registers one of my devices. The first device sets my identity key; every device must
   * carry a certificate from that key. The server checks it too, but devices never rely
   * on the server's word: they verify certificates themselves.
   */
  contractRoute(app, 'addDevice', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const device = request.body;
    await ctx.db.transaction().execute((trx) => addDevice(trx, ctx.site, username, device, ctx.now()));
    void reply.status(201);
    return { id: device.id, name: device.name };
  });

  contractRoute(app, 'devices', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('devices').select(['id', 'name', 'created_at', 'last_used_at']).where('username', '=', username).orderBy('created_at').execute();
    const vault = await ctx.db.selectFrom('vaults').select('device_id').where('username', '=', username).executeTakeFirst();
    return {
      items: rows.map((r) => ({
        id: r.id,
        name: r.name,
        kind: r.id === vault?.device_id ? ('vault' as const) : r.name.startsWith('Browser') ? ('browser' as const) : ('other' as const),
        createdAt: new Date(Number(r.created_at)).toISOString(),
        lastUsedAt: r.last_used_at ? new Date(Number(r.last_used_at)).toISOString() : null,
      })),
    };
  });

  /** A device says it is in use (the web app, when it opens): the list shows when each was last used. */
  contractRoute(app, 'deviceSeen', async (request) => {
    const username = await requireUser(ctx, request);
    const result = await ctx.db.updateTable('devices').set({ last_used_at: ctx.now() }).where('id', '=', request.params.id).where('username', '=', username).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw notFound('device');
  });

  /**
   * One click to clear out browsers I no longer use (each holds keys that new messages are
   * encrypted to): browser devices not used for `unusedDays`, except the one asking. The home
   * vault and CLI devices stay.
   */
  contractRoute(app, 'removeUnusedDevices', async (request) => {
    const username = await requireUser(ctx, request);
    const cutoff = ctx.now() - request.query.unusedDays * 24 * 60 * 60 * 1000;
    const vault = await ctx.db.selectFrom('vaults').select('device_id').where('username', '=', username).executeTakeFirst();
    const rows = await ctx.db.selectFrom('devices').select(['id', 'name', 'created_at', 'last_used_at']).where('username', '=', username).execute();
    const unused = rows.filter((r) => r.name.startsWith('Browser') && r.id !== vault?.device_id && r.id !== request.query.keep && Number(r.last_used_at ?? r.created_at) <= cutoff).map((r) => r.id);
    if (unused.length > 0) await ctx.db.deleteFrom('devices').where('username', '=', username).where('id', 'in', unused).execute();
    return { removed: unused.length };
  });

  contractRoute(app, 'removeDevice', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const id = request.params.id;
    const deleted = await ctx.db.transaction().execute(async (trx) => {
      // Removing the vault's device unpairs the vault: its queue goes with it.
      const vault = await trx.selectFrom('vaults').select('device_id').where('username', '=', username).executeTakeFirst();
      if (vault?.device_id === id) await removeVault(trx, username);
      const result = await trx.deleteFrom('devices').where('id', '=', id).where('username', '=', username).executeTakeFirst();
      return vault?.device_id === id || Number(result.numDeletedRows) > 0;
    });
    if (!deleted) throw notFound('device');
    ctx.vaults.disconnect(username, id);
    return reply.status(204).send();
  });

  contractRoute(app, 'putKeyBackup', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { backup } = request.body;
    await ctx.db.updateTable('users').set({ key_backup: JSON.stringify(backup) }).where('username', '=', username).execute();
    return reply.status(204).send();
  });

  contractRoute(app, 'keyBackup', async (request) => {
    const username = await requireUser(ctx, request);
    const user = (await findUser(ctx.db, username))!;
    if (!user.key_backup) throw notFound('key backup');
    return { backup: JSON.parse(user.key_backup) as KeyBackup, identityKey: user.identity_key };
  });

  /** A person's public profile and device keys, from wherever they live (for my devices). */
  contractRoute(app, 'lookup', async (request) => {
    await requireUser(ctx, request);
    return lookupProfile(ctx, parseAddressInput(request.query.address));
  });

  /**
   * Queues one DM the device has already encrypted: the backend only wraps the ciphertext in an
   * envelope, keeps a copy for my other devices, and queues it for the recipient's site.
   * Group commit: DMs sent at the same moment (a busy site, a batch, a device catching up) share
   * one transaction; one that fails (a replay) is run again alone and fails alone.
   */
  const queueDm = async (username: string, toText: string, message: DmCiphertext) => {
    const to = parseAddressInput(toText);
    const env = await ctx.batcher
      .submit(async (trx) => {
        const sent = await queueEnvelope(ctx, trx, { type: TYPES.dm, from: username, to, data: { message } });
        await recordDm(trx, { username, envelopeId: sent.id, direction: 'out', peer: formatAddress(to), message, now: ctx.now() });
        return sent;
      })
      .catch((error: unknown) => {
        // The same message sent twice at the same moment, on PostgreSQL: both passed the replay
        // check before either committed, and the unique index stopped the second.
        if (isUniqueViolation(error, DM_ONCE)) throw new ApiError('duplicate_message', 'this sealed message was already sent', { status: 409 });
        throw error;
      });
    return { id: env.id, to: formatAddress(to), status: 'sending' as const };
  };

  contractRoute(app, 'sendDm', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const sent = await queueDm(username, request.body.to, request.body.message);
    ctx.outbox.wake();
    ctx.vaults.wake(username);
    void reply.status(202);
    return sent;
  });

  /**
   * Many sealed DMs in one request (a device sending what waited while it was offline, a script):
   * each is queued as `POST /api/dms` would queue it, in the same group commit, and each is
   * answered on its own. A refusal (a replay, a bad address) refuses that message only; an error
   * of the site's own (a full disk) fails the request, and sending the batch again is safe: what
   * was already sent comes back refused as `duplicate_message`.
   */
  contractRoute(
    app,
    'sendDms',
    async (request, reply) => {
      const username = await requireUser(ctx, request);
      const outcomes = await Promise.allSettled(request.body.messages.map((m) => queueDm(username, m.to, m.message)));
      ctx.outbox.wake();
      ctx.vaults.wake(username);
      const items = outcomes.map((outcome, i) => {
        if (outcome.status === 'fulfilled') return outcome.value;
        const error = outcome.reason;
        if (!(error instanceof HearthError) || error.status >= 500) throw error;
        return { to: request.body.messages[i]!.to, status: 'refused' as const, error: { code: error.code, message: error.message } };
      });
      void reply.status(202);
      return { items };
    },
    { bodyLimit: LIMITS.dmBatchBytes, config: { rateLimit: { max: DM_BATCHES_PER_MINUTE, timeWindow: 60_000 } } },
  );

  contractRoute(app, 'dms', async (request) => {
    const username = await requireUser(ctx, request);
    const query = request.query;
    const rows = await rowsAfter(ctx.db, 'dm_messages', username, query.after, query.limit);
    const last = rows[rows.length - 1];
    return {
      items: rows.map((r) => ({
        seq: Number(r.seq),
        id: r.envelope_id,
        direction: r.direction,
        peer: r.peer,
        message: JSON.parse(r.ciphertext) as DmCiphertext,
        createdAt: new Date(Number(r.created_at)).toISOString(),
      })),
      next: rows.length === query.limit && last ? Number(last.seq) : null,
    };
  });

};
