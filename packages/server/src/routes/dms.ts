import { DmCiphertextSchema, formatAddress, TYPES, verifyDeviceCertificate } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Context } from '../context.js';
import { ApiError, conflict, notFound } from '../errors.js';
import { parseAddressInput, parseInput, requireUser } from '../http-helpers.js';
import { queueEnvelope } from '../outbox/send.js';
import { remoteLookupError } from '../federation/directory.js';
import { rowsAfter } from '../storage/sequenced.js';
import { findUser, localAddressText, publicProfile } from '../storage/users.js';

const key = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a 32-byte key in base64url');
const NewDevice = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  name: z.string().trim().min(1).max(100),
  signKey: key,
  dhKey: key,
  cert: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
  identityKey: key,
});
const KeyBackup = z.strictObject({
  backup: z.strictObject({
    alg: z.literal('scrypt-xchacha20poly1305'),
    salt: z.string().max(64),
    N: z.number().int(),
    r: z.number().int(),
    p: z.number().int(),
    nonce: z.string().max(64),
    ciphertext: z.string().max(512),
  }),
});
const NewDm = z.strictObject({ to: z.string().max(300), message: DmCiphertextSchema });
const DmQuery = z.object({ after: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(500).default(100) });
const MAX_DEVICES = 20;

export const dmRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  /**
   * Registers one of my devices. The first device sets my identity key; every device must
   * carry a certificate from that key. The server checks it too, but devices never rely
   * on the server's word: they verify certificates themselves.
   */
  app.post('/api/devices', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const device = parseInput(NewDevice, request.body);
    const user = (await findUser(ctx.db, username))!;
    if (user.identity_key && user.identity_key !== device.identityKey) {
      throw conflict('identity_mismatch', 'this account already has another identity key: restore it from your key backup first');
    }
    if (!verifyDeviceCertificate(device.identityKey, localAddressText(ctx.site, username), device)) {
      throw new ApiError('bad_certificate', 'the device certificate does not verify under the identity key', { status: 400 });
    }
    const count = await ctx.db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where('username', '=', username).executeTakeFirst();
    if (Number(count?.n ?? 0) >= MAX_DEVICES) throw conflict('too_many_devices', `an account may have at most ${MAX_DEVICES} devices; remove one first`);
    const existing = await ctx.db.selectFrom('devices').select('username').where('id', '=', device.id).executeTakeFirst();
    if (existing) throw conflict('device_exists', 'a device with this id already exists');
    await ctx.db.transaction().execute(async (trx) => {
      if (!user.identity_key) await trx.updateTable('users').set({ identity_key: device.identityKey }).where('username', '=', username).execute();
      await trx
        .insertInto('devices')
        .values({ id: device.id, username, name: device.name, sign_key: device.signKey, dh_key: device.dhKey, cert: device.cert, created_at: ctx.now() })
        .execute();
    });
    void reply.status(201);
    return { id: device.id, name: device.name };
  });

  app.get('/api/devices', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('devices').select(['id', 'name', 'created_at']).where('username', '=', username).orderBy('created_at').execute();
    return { items: rows.map((r) => ({ id: r.id, name: r.name, createdAt: new Date(Number(r.created_at)).toISOString() })) };
  });

  app.delete('/api/devices/:id', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const result = await ctx.db.deleteFrom('devices').where('id', '=', (request.params as { id: string }).id).where('username', '=', username).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound('device');
    return reply.status(204).send();
  });

  app.put('/api/key-backup', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { backup } = parseInput(KeyBackup, request.body);
    await ctx.db.updateTable('users').set({ key_backup: JSON.stringify(backup) }).where('username', '=', username).execute();
    return reply.status(204).send();
  });

  app.get('/api/key-backup', async (request) => {
    const username = await requireUser(ctx, request);
    const user = (await findUser(ctx.db, username))!;
    if (!user.key_backup) throw notFound('key backup');
    return { backup: JSON.parse(user.key_backup) as unknown, identityKey: user.identity_key };
  });

  /** A person's public profile and device keys, from wherever they live (for my devices). */
  app.get('/api/lookup', async (request) => {
    await requireUser(ctx, request);
    const address = parseAddressInput((request.query as { address?: unknown }).address);
    if (ctx.directory.isLocal(address)) {
      const user = await findUser(ctx.db, address.username);
      if (!user) throw notFound(`user ${formatAddress(address)}`);
      return publicProfile(ctx.db, ctx.site, user);
    }
    return ctx.directory.profileOf(address).catch((error: unknown) => {
      throw remoteLookupError(error, address);
    });
  });

  /**
   * Sends a DM the device has already encrypted. The backend only wraps the ciphertext in an
   * envelope, keeps a copy for my other devices, and queues it for the recipient's site.
   */
  app.post('/api/dms', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const body = parseInput(NewDm, request.body);
    const to = parseAddressInput(body.to);
    const env = await ctx.db.transaction().execute(async (trx) => {
      const sent = await queueEnvelope(ctx, trx, { type: TYPES.dm, from: username, to, data: { message: body.message } });
      await trx
        .insertInto('dm_messages')
        .values({ username, envelope_id: sent.id, direction: 'out', peer: formatAddress(to), ciphertext: JSON.stringify(body.message), created_at: ctx.now() })
        .execute();
      return sent;
    });
    ctx.outbox.wake();
    void reply.status(202);
    return { id: env.id, to: formatAddress(to), status: 'sending' };
  });

  app.get('/api/dms', async (request) => {
    const username = await requireUser(ctx, request);
    const query = parseInput(DmQuery, request.query, 'query');
    const rows = await rowsAfter(ctx.db, 'dm_messages', username, query.after, query.limit);
    const last = rows[rows.length - 1];
    return {
      items: rows.map((r) => ({
        seq: Number(r.seq),
        id: r.envelope_id,
        direction: r.direction,
        peer: r.peer,
        message: JSON.parse(r.ciphertext) as unknown,
        createdAt: new Date(Number(r.created_at)).toISOString(),
      })),
      next: rows.length === query.limit && last ? Number(last.seq) : null,
    };
  });

};
