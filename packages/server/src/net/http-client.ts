import http from 'node:http';
import https from 'node:https';
import { HearthError } from '@hearth/protocol';
import { ForbiddenAddressError, guardedLookup, isForbiddenAddress } from './ssrf.js';
import net from 'node:net';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  maxBytes?: number;
}

/** What the parts that read other sites need of HTTP: one request at a time (HttpClient, or relay/path-aware-http.ts with the friends relay behind it). */
export interface HttpFetcher {
  request(req: HttpRequest): Promise<HttpResponse>;
}

export class FetchError extends HearthError {
  /**
   * @param network the network failed (nothing answered, no answer in time, the connection was
   * cut), as opposed to an answer that was too large or unreadable: the cue for a relay path.
   */
  constructor(message: string, cause?: unknown, readonly network = false) {
    super('fetch_failed', message, { status: 502, retryable: true, cause });
  }
}

/**
 * The only way the server talks HTTP to other sites: keep-alive agents, a timeout, a cap on
 * the response size, no redirects (a redirect is an easy SSRF detour), https only unless the
 * site runs in dev mode, and the guarded DNS lookup on every connection.
 */
export class HttpClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly options: { allowInsecure: boolean; userAgent: string }) {
    const lookup = guardedLookup(options.allowInsecure) as unknown as http.AgentOptions['lookup'];
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16, lookup });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, lookup });
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.url);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.options.allowInsecure)) {
      throw new HearthError('insecure_url', `only https URLs may be fetched (got ${url.protocol})`, { status: 400 });
    }
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (!this.options.allowInsecure && net.isIP(literal) && isForbiddenAddress(literal)) throw new ForbiddenAddressError(url.hostname);
    const maxBytes = req.maxBytes ?? 1024 * 1024;
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
      const request = transport.request(
        url,
        {
          method: req.method ?? 'GET',
          agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          headers: { 'user-agent': this.options.userAgent, accept: 'application/json', ...req.headers },
          timeout: req.timeoutMs ?? 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              request.destroy(new FetchError(`response from ${url.host} is larger than ${maxBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (error) => reject(new FetchError(`reading from ${url.host} failed: ${error.message}`, error)));
        },
      );
      request.on('timeout', () => request.destroy(new FetchError(`${url.host} did not answer in time`, undefined, true)));
      request.on('error', (error) => {
        if (error instanceof HearthError) reject(error);
        else if ((error as { code?: string }).code === 'forbidden_address') reject(error);
        else reject(new FetchError(`could not reach ${url.host}: ${networkReason(error)}`, error, true));
      });
      if (req.body !== undefined) request.end(req.body);
      else request.end();
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/**
 * A network failure as a person can read it ("nothing answers there"), never a system code such
 * as ECONNREFUSED; the original error stays as the cause, for the log.
 */
export function networkReason(error: Error): string {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'ECONNREFUSED') return 'nothing answers there (the site may be down)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'no such site name (check the address)';
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') return 'it did not answer in time';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'the connection was cut';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'the network cannot reach it';
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return 'its HTTPS certificate is not valid';
  return 'the connection failed';
}
