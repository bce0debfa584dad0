import { contractRoute } from '../http-contract.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LIMITS } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { requireUser } from '../http-helpers.js';
import { processImage } from '../media/images.js';

/**
 * Image uploads: the body is the file itself (any image/* or application/octet-stream type;
 * the declared type is not trusted). Stored re-encoded in DATA/media/, served with its real
 * type, `nosniff`, and a sandboxing CSP, so no upload can act as a page or a script.
 */
export const mediaRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  // Read per request: in a hosting service one app serves many sites (ctx is the request's site).
  const dir = () => path.join(ctx.config.dataDir, 'media');
  app.addContentTypeParser(/^(application\/octet-stream|image\/[a-z0-9.+-]+)$/, { parseAs: 'buffer', bodyLimit: LIMITS.uploadBytes }, (_request, body, done) => done(null, body));

  contractRoute(app, 'upload', async (request, reply) => {
    const username = await requireUser(ctx, request);
    if (!Buffer.isBuffer(request.body) || request.body.length === 0) {
      throw new ApiError('invalid_request', 'send the image file itself as the request body (content-type image/* or application/octet-stream)', { status: 400 });
    }
    await ctx.quota.checkStorage(request.body.length);
    const image = await processImage(request.body);
    const id = crypto.randomBytes(16).toString('base64url');
    const file = `${id}.${image.extension}`;
    await fs.promises.mkdir(dir(), { recursive: true });
    await fs.promises.writeFile(path.join(dir(), file), image.data, { flag: 'wx' });
    await ctx.db
      .insertInto('media')
      .values({ id, owner: username, type: image.type, file, bytes: image.data.length, width: image.width, height: image.height, created_at: ctx.now() })
      .execute();
    void reply.status(201);
    return { id, url: `${ctx.config.origin}/media/${file}`, type: image.type, width: image.width, height: image.height, bytes: image.data.length };
  }, { bodyLimit: LIMITS.uploadBytes });

  app.get('/media/:file', async (request, reply) => {
    const file = (request.params as { file: string }).file;
    const row = /^[A-Za-z0-9_-]{22}\.(jpg|png|gif|webp)$/.test(file) ? await ctx.db.selectFrom('media').select(['type']).where('file', '=', file).executeTakeFirst() : undefined;
    if (!row) throw notFound('image');
    const data = await fs.promises.readFile(path.join(dir(), file)).catch(() => undefined);
    if (!data) throw notFound('image');
    return reply
      .header('content-type', row.type)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('content-disposition', 'inline')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('cross-origin-resource-policy', 'cross-origin')
      .send(data);
  });
};
