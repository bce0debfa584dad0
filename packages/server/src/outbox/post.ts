import { HearthError, isRetryableAnswer, RelayResultSchema } from '@hearth/protocol';
import type { AckResult } from '../federation/link.js';
import type { HttpClient } from '../net/http-client.js';

/**
 * Delivers one envelope by HTTP(S) POST to a site's inbox (`origin`/federation/inbox): the
 * fallback when no link is up. The answer becomes an ack like a link's.
 */
export async function postEnvelope(http: HttpClient, origin: string, body: string): Promise<AckResult> {
  try {
    const res = await http.request({
      url: `${origin}/federation/inbox`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      timeoutMs: 15_000,
      maxBytes: 64 * 1024,
    });
    if (res.status >= 200 && res.status < 300) {
      // A relay envelope's answer carries the destination's ack of each envelope inside it.
      const results = res.text.includes('"results"') ? RelayResultSchema.array().safeParse((JSON.parse(res.text) as { results?: unknown }).results) : undefined;
      return results?.success ? { ok: true, results: results.data } : { ok: true };
    }
    let code = `http_${res.status}`;
    let message = `answered ${res.status}`;
    try {
      const parsed = JSON.parse(res.text) as { error?: { code?: string; message?: string } };
      code = parsed.error?.code ?? code;
      message = parsed.error?.message ?? message;
    } catch {
      /* not JSON: keep the status */
    }
    // Retry by the code's registry entry (key_unknown is a 401 that asks for a retry), else by status.
    const date = typeof res.headers.date === 'string' ? Date.parse(res.headers.date) : NaN;
    const retryAfter = Number(res.headers['retry-after']);
    return {
      ok: false,
      code,
      message,
      retryable: isRetryableAnswer(code, res.status),
      ...(Number.isFinite(date) ? { time: new Date(date).toISOString() } : {}),
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
    };
  } catch (error) {
    return failure(error);
  }
}

/** An exception as an ack: the error's code, retryable when the error says so or the fault is the receiver's. */
export function failure(error: unknown): AckResult {
  if (error instanceof HearthError) return { ok: false, code: error.code, message: error.message, retryable: error.retryable || error.status >= 500 };
  return { ok: false, code: 'error', message: (error as Error)?.message ?? String(error), retryable: true };
}
