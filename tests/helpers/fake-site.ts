import http from 'node:http';
import type net from 'node:net';

/**
 * A hostile or minimal "other site" on loopback, for tests of what a Hearth site does with what
 * it fetches: it serves the profiles it is given (404 for the rest) and counts every request.
 */
export class FakeSite {
  readonly requests: string[] = [];
  readonly profiles = new Map<string, unknown>();
  /** Posts per user, each with its `seq` on this site, served by sequence (afterSeq) or by time (since). */
  readonly posts = new Map<string, Array<{ id: string; text: string; createdAt: string; seq: number }>>();
  private constructor(private readonly server: http.Server, readonly port: number) {}

  static async start(): Promise<FakeSite> {
    let site: FakeSite | undefined;
    const server = http.createServer((req, res) => {
      site!.requests.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://fake');
      const postsOf = /^\/api\/users\/([a-z0-9_]+)\/posts$/.exec(url.pathname);
      if (postsOf && site!.posts.has(postsOf[1]!)) {
        const author = `${postsOf[1]}@${site!.host}`;
        let items = site!.posts.get(postsOf[1]!)!.map((p) => ({ ...p, author }));
        const afterSeq = url.searchParams.get('afterSeq');
        const since = url.searchParams.get('since');
        if (afterSeq !== null) items = items.filter((p) => p.seq > Number(afterSeq)).sort((a, b) => a.seq - b.seq);
        else {
          if (since) items = items.filter((p) => p.createdAt > since);
          items.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items, next: null }));
        return;
      }
      const match = /^\/api\/users\/([a-z0-9_]+)$/.exec(req.url ?? '');
      const profile = match ? site!.profiles.get(match[1]!) : undefined;
      if (profile === undefined) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"no such user"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(profile));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    site = new FakeSite(server, (server.address() as net.AddressInfo).port);
    return site;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  address(user: string): { host: string; port: number; username: string } {
    return { host: '127.0.0.1', port: this.port, username: user };
  }

  requestsFor(path: string): number {
    return this.requests.filter((r) => r === path).length;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
