/** The site's HTTP API, with the session token kept in this browser. Errors carry the site's message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * The backend this app talks to: its own origin, unless index.html names another in
 * <meta name="hearth-backend"> (the app served from a separate front-end server or CDN).
 */
export const BACKEND = (document.querySelector('meta[name="hearth-backend"]')?.getAttribute('content') ?? '').replace(/\/+$/, '');

const TOKEN_KEY = 'hearth.token';
const USER_KEY = 'hearth.username';

export const session = {
  get token(): string | null {
    return localStorage.getItem(TOKEN_KEY);
  },
  get username(): string | null {
    return localStorage.getItem(USER_KEY);
  },
  save(token: string, username: string): void {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(USER_KEY, username);
  },
  clear(): void {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  },
};

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  let res: Response;
  try {
    res = await fetch(`${BACKEND}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'offline', 'Could not reach your site. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
  if (!res.ok) {
    if (res.status === 401 && session.token) session.clear();
    throw new ApiError(res.status, json?.error?.code ?? 'error', json?.error?.message ?? `The site answered ${res.status}.`);
  }
  return json as T;
}

// The API's types come from the contract in @hearth/protocol (type-only: no schema code here).
import type { ApiResponse, NotificationView, Page, PostDetail, PostView } from '@hearth/protocol/api';

export type { ApiResponse, NotificationView, Page, PostDetail };
export type Post = PostView;
export type Profile = ApiResponse<'user'>;
export type Person = ApiResponse<'person'>;

/** This browser's device id (its keys live in IndexedDB; the id is kept here too, to say "in use" cheaply). */
export const DEVICE_ID_KEY = 'hearth.deviceId';

/** Tells my site this browser is in use, for Settings > Devices ("last used"). */
export async function markDeviceUsed(): Promise<void> {
  const id = localStorage.getItem(DEVICE_ID_KEY);
  if (id && session.token) await api('POST', `/api/devices/${encodeURIComponent(id)}/seen`);
}

/**
 * A GET started before React renders (at module load), for the page being opened: the first
 * page of Home's feed need not wait for the app to mount. Taken once; later loads fetch anew.
 */
const early = new Map<string, Promise<unknown>>();
export function prefetch(path: string): void {
  if (session.token && !early.has(path)) early.set(path, api('GET', path));
}
export function takePrefetched<T>(path: string): Promise<T> | undefined {
  const pending = early.get(path) as Promise<T> | undefined;
  early.delete(path);
  return pending;
}

/** Uploads one image file; the site checks it by its content, not its name. */
export async function uploadImage(file: File): Promise<ApiResponse<'upload'>> {
  let res: Response;
  try {
    res = await fetch(`${BACKEND}/api/media`, { method: 'POST', headers: { authorization: `Bearer ${session.token ?? ''}`, 'content-type': 'application/octet-stream' }, body: file });
  } catch {
    throw new ApiError(0, 'offline', 'Could not reach your site to upload the image.');
  }
  const json = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } & ApiResponse<'upload'>;
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? 'error', `${file.name}: ${json?.error?.message ?? `upload failed (${res.status})`}`);
  return json;
}
