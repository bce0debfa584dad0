import { HearthError } from '@hearth/protocol';
import { asStorageError } from './storage/storage-errors.js';

/** Errors of the HTTP API; protocol errors (HearthError subclasses) map the same way. */
export class ApiError extends HearthError {}

export const notFound = (what: string) => new ApiError('not_found', `${what} was not found`, { status: 404 });
export const forbidden = (message: string) => new ApiError('forbidden', message, { status: 403 });
export const unauthorized = (message = 'log in first: send Authorization: Bearer TOKEN') => new ApiError('unauthorized', message, { status: 401 });
export const badRequest = (code: string, message: string) => new ApiError(code, message, { status: 400 });
export const conflict = (code: string, message: string) => new ApiError(code, message, { status: 409 });

/**
 * One place decides what an error looks like on the wire: `{"error":{"code","message"}}`.
 * A 5xx says only "internal error": internals and stack traces stay in the log.
 */
export function errorBody(raw: unknown): { status: number; body: { error: { code: string; message: string } } } {
  const error = asStorageError(raw);
  if (error instanceof HearthError) {
    if (error.status >= 500 && error.code === 'internal') return internal();
    return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  }
  const e = error as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === 413 ? 'too_large' : e.statusCode === 415 ? 'unsupported_media_type' : e.statusCode === 404 ? 'not_found' : 'bad_request';
    return { status: e.statusCode, body: { error: { code, message: e.message ?? 'bad request' } } };
  }
  return internal();
}

function internal() {
  return { status: 500, body: { error: { code: 'internal', message: 'internal error; the site operator can find details in the log' } } };
}
