import type { SiteName } from '@hearth/protocol';
import { FetchError, type HttpClient, type HttpFetcher, type HttpRequest, type HttpResponse } from '../net/http-client.js';
import type { RelayRouter } from './router.js';

export type { HttpFetcher } from '../net/http-client.js';

/**
 * HTTP for reading other sites, with the friends relay behind it: a GET of another Hearth site
 * goes direct; when the network fails (or a relay is already in use for that site) it goes
 * through a relay, sealed (RelayRouter.fetch). Key lookups, profiles and a follower's pulls all
 * read through here, so they work wherever envelopes do.
 */
export class PathAwareHttp implements HttpFetcher {
  constructor(
    private readonly http: HttpClient,
    private readonly router: () => RelayRouter | undefined,
    /** The site a URL belongs to, when it is a Hearth site's URL (its origin); else null. */
    private readonly siteOf: (url: URL) => SiteName | null,
  ) {}

  async request(req: HttpRequest): Promise<HttpResponse> {
    const router = this.router();
    const url = new URL(req.url);
    const site = (req.method ?? 'GET') === 'GET' && router ? this.siteOf(url) : null;
    if (!router || !site) return this.http.request(req);
    const path = url.pathname + url.search;
    const etag = req.headers?.['if-none-match'];
    if (await router.avoidDirect(site)) {
      const relayed = await router.fetch(site, path, etag);
      if (relayed) return relayed;
    }
    try {
      const res = await this.http.request(req);
      void router.directWorks(site);
      return res;
    } catch (error) {
      if (!(error instanceof FetchError && error.network)) throw error;
      await router.directFailed(site);
      const relayed = await router.fetch(site, path, etag);
      if (relayed) return relayed;
      throw error;
    }
  }
}
