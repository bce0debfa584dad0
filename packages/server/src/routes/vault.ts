import type { KeyBackup } from '@hearth/protocol';
import { contractRoute } from '../http-contract.js';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { ApiError } from '../errors.js';
import { requireUser } from '../http-helpers.js';
import { findUser, localAddressText } from '../storage/users.js';
import { consumePairingCode, countQueued, issuePairingCode, pairingCodeOwner, removeVault, vaultOf } from '../storage/vault.js';
import { addDevice } from '../storage/devices.js';


const badCode = () => new ApiError('bad_pairing_code', 'this pairing code is wrong, expired or already used: get a new one from your site', { status: 403 });

/**
 * Pairing and status of the home vault (docs/API.md "Home vault"), the vault's own link, and the
 * relay of sealed requests from the owner's devices to it. Codes are one-time, hashed at rest,
 * good for 15 minutes, and failed tries are limited like logins.
 */
export const vaultRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  contractRoute(app, 'pairingCode', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { code, expiresAt } = await issuePairingCode(ctx.db, username, ctx.now());
    void reply.status(201);
    return { code, expiresAt: new Date(expiresAt).toISOString() };
  });

  contractRoute(app, 'vault', async (request) => {
    const username = await requireUser(ctx, request);
    const vault = await vaultOf(ctx.db, username);
    if (!vault) return { paired: false };
    return {
      paired: true,
      deviceId: vault.device_id,
      pairedAt: new Date(Number(vault.paired_at)).toISOString(),
      online: await ctx.vaults.isOnline(username),
      lastSeenAt: vault.last_seen_at === null ? null : new Date(Number(vault.last_seen_at)).toISOString(),
      waiting: await countQueued(ctx.db, username),
    };
  });

  contractRoute(app, 'unpairVault', async (request, reply) => {
    const username = await requireUser(ctx, request);
    await ctx.db.transaction().execute((trx) => removeVault(trx, username));
    ctx.vaults.disconnect(username);
    return reply.status(204).send();
  });

  /** Too many wrong codes from one address are refused for a while, like wrong passwords. */
  const checkCode = async (ip: string, code: string): Promise<string> => {
    // Per address only: a global count would let anyone block everyone's pairing (codes have 100 bits anyway).
    const keys = [`vault-pairing-ip:${ip}`];
    const wait = ctx.loginLimiter.retryAfter(keys, ctx.now());
    if (wait > 0) throw new ApiError('rate_limited', `too many wrong pairing codes: try again in ${Math.ceil(wait / 1000)} s`, { status: 429 });
    const owner = await pairingCodeOwner(ctx.db, code, ctx.now());
    if (!owner) {
      ctx.loginLimiter.recordFailure(keys, ctx.now());
      throw badCode();
    }
    return owner;
  };

  /** First step of pairing: whose vault this becomes, and the identity-key backup to unlock with the owner's password. */
  contractRoute(app, 'vaultPairStart', async (request) => {
    const { code } = request.body;
    const username = await checkCode(request.ip, code);
    const user = (await findUser(ctx.db, username))!;
    return {
      address: localAddressText(ctx.site, username),
      origin: ctx.config.origin,
      identityKey: user.identity_key,
      backup: user.key_backup ? (JSON.parse(user.key_backup) as KeyBackup) : null,
    };
  });

  /** Second step: the vault registers its device keys, certified by the identity key, and the code is used up. */
  contractRoute(app, 'vaultPair', async (request, reply) => {
    const body = request.body;
    await checkCode(request.ip, body.code);
    const device = body.device;
    const result = await ctx.db.transaction().execute(async (trx) => {
      const username = await consumePairingCode(trx, body.code, ctx.now());
      if (!username) throw badCode();
      const now = ctx.now();
      await addDevice(trx, ctx.site, username, device, now, {
        keyBackup: body.backup,
        backupRequired: true,
        makeRoom: () => removeVault(trx, username), // a new vault replaces the old one
      });
      await trx.insertInto('vaults').values({ username, device_id: device.id, paired_at: now, last_seen_at: null }).execute();
      return { username, address: localAddressText(ctx.site, username) };
    });
    ctx.vaults.disconnect(result.username);
    ctx.log.info({ user: result.username, device: device.id }, 'vault paired');
    void reply.status(201);
    return { address: result.address, deviceId: device.id, origin: ctx.config.origin };
  });

  /** A sealed request from one of my devices to my vault (history); the answer comes back sealed to that device. */
  contractRoute(app, 'vaultRequest', async (request) => {
    const username = await requireUser(ctx, request);
    const { sealed } = request.body;
    if (!(await vaultOf(ctx.db, username))) throw new ApiError('no_vault', 'you have no home vault paired', { status: 404 });
    return { sealed: await ctx.vaults.request(username, sealed) };
  });

  app.get('/api/vault/link', { websocket: true }, (socket) => ctx.vaults.accept(socket));
};
