import { CliError } from './errors.js';

/** A small client for a site's HTTP API; errors come back as the site's own message. */
export class ApiClient {
  constructor(readonly base: string, private token?: string) {}

  withToken(token: string): ApiClient {
    return new ApiClient(this.base, token);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new CliError(`could not reach ${this.base}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      const error = new CliError(`${this.base} refused: ${err?.message ?? `HTTP ${res.status}`}${err?.code ? ` (${err.code})` : ''}`);
      (error as CliError & { status: number; code?: string }).status = res.status;
      (error as CliError & { status: number; code?: string }).code = err?.code;
      throw error;
    }
    return json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
}
