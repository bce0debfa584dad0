import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from './context.js';

/**
 * In a hosting service one Fastify app serves every site (issue 12): routing, schemas and
 * handlers exist once, not once per site. The site of a request is its Context, set when the
 * service hands the request to the app and carried by AsyncLocalStorage through everything the
 * handler awaits. Routes keep writing `ctx.db`, `ctx.site`...: their `ctx` is `requestSite`,
 * which reads the current request's Context. Outside a request it throws, so a value read at
 * registration time (which would belong to no site) is caught at start, not served to the
 * wrong site. A handler that keeps using its site after the request (a WebSocket's later
 * messages) takes the real Context first: `ctx.self`.
 */
const current = new AsyncLocalStorage<Context>();

export function runInSite<T>(ctx: Context, run: () => T): T {
  return current.run(ctx, run);
}

export function currentSite(): Context | undefined {
  return current.getStore();
}

export const requestSite: Context = new Proxy(Object.create(null) as Context, {
  get(_target, prop) {
    const ctx = current.getStore();
    if (!ctx) throw new Error(`no site for this request: ctx.${String(prop)} read outside a request`);
    const value = Reflect.get(ctx, prop, ctx) as unknown;
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(ctx) : value;
  },
  set(_target, prop, value) {
    const ctx = current.getStore();
    if (!ctx) throw new Error(`no site for this request: ctx.${String(prop)} set outside a request`);
    return Reflect.set(ctx, prop, value, ctx);
  },
});
