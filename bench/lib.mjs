// Small helpers shared by the benchmark scripts.
import net from 'node:net';

export async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Polls until `probe` gives a value (not undefined, null or false) and returns it. Every 50 ms by
 * default: often enough for runs of seconds, rarely enough not to steal CPU from the sites.
 */
export async function waitFor(probe, timeoutMs = 120_000, intervalMs = 50, what = 'a condition') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`bench timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A JSON request to a site's API; a refusal throws with the site's answer. */
export async function api(url, method, urlPath, { token, body } = {}) {
  const res = await fetch(`${url}${urlPath}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => undefined);
  if (!res.ok) throw new Error(`${method} ${urlPath}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
