import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { NoResponderError, type ClusterBus } from './bus.js';

/** A bus's answer that carries a failure: the responder's error, said to the asker. */
interface Failure {
  error: { code?: string; message: string; status?: number };
}

/**
 * The cluster bus on NATS (Debian's nats-server; @nats-io/transport-node). One connection per
 * process, shared by the sites in it; each site's subjects live under `hearth.<scope>.`. The
 * client reconnects by itself, forever, and buffers what is published meanwhile; subscriptions
 * come back with the connection.
 */
export class NatsBus implements ClusterBus {
  private closed = false;
  /** This bus's subscriptions: ended at close, since the connection may live on for other sites. */
  private readonly subscriptions = new Set<{ unsubscribe(): void }>();

  private constructor(
    private readonly shared: SharedConnection,
    private readonly url: string,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  private get nc(): NatsConnection {
    return this.shared.nc;
  }

  static async open(url: string, scope: string, log: Logger): Promise<NatsBus> {
    return new NatsBus(await acquire(url, log), url, `hearth.${scope}.`, log);
  }

  publish(subject: string, data: unknown): void {
    try {
      this.nc.publish(this.prefix + subject, JSON.stringify(data));
    } catch (error) {
      this.log.debug({ err: (error as Error).message, subject }, 'NATS publish failed');
    }
  }

  subscribe(subject: string, handler: (data: unknown, subject: string) => void): () => void {
    const sub = this.nc.subscribe(this.prefix + subject, {
      callback: (error, msg) => {
        if (error) return;
        try {
          handler(msg.json(), msg.subject.slice(this.prefix.length));
        } catch (caught) {
          this.log.warn({ err: (caught as Error).message, subject: msg.subject }, 'NATS message not handled');
        }
      },
    });
    return this.track(sub);
  }

  private track(sub: { unsubscribe(): void }): () => void {
    this.subscriptions.add(sub);
    // A request from another connection right after this must find the subscription.
    void this.nc.flush().catch(() => undefined);
    return () => {
      this.subscriptions.delete(sub);
      sub.unsubscribe();
    };
  }

  async request(subject: string, data: unknown, timeoutMs: number): Promise<unknown> {
    let answer: unknown;
    try {
      answer = (await this.nc.request(this.prefix + subject, JSON.stringify(data), { timeout: timeoutMs })).json();
    } catch (error) {
      const text = String((error as Error).message ?? error);
      if (/no responders|503/i.test(text)) throw new NoResponderError(text);
      throw error;
    }
    const failure = (answer as Partial<Failure>)?.error;
    if (failure && typeof failure.message === 'string') throw Object.assign(new Error(failure.message), failure);
    return (answer as { ok: unknown }).ok;
  }

  respond(subject: string, answer: (data: unknown) => Promise<unknown>): () => void {
    const sub = this.nc.subscribe(this.prefix + subject, {
      callback: (error, msg) => {
        if (error) return;
        void (async () => {
          try {
            msg.respond(JSON.stringify({ ok: await answer(msg.json()) }));
          } catch (caught) {
            const e = caught as { code?: string; message?: string; status?: number };
            msg.respond(JSON.stringify({ error: { code: e.code, message: e.message ?? 'failed', status: e.status } } satisfies Failure));
          }
        })();
      },
    });
    return this.track(sub);
  }

  state(): 'connected' | 'reconnecting' | 'closed' {
    if (this.closed || this.nc.isClosed()) return 'closed';
    return this.shared.connected ? 'connected' : 'reconnecting';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.subscriptions.clear();
    await release(this.url);
  }
}

interface SharedConnection {
  nc: NatsConnection;
  connected: boolean;
  users: number;
}

/** One NATS connection per server URL in a process (a hosting service's sites share it). */
const connections = new Map<string, Promise<SharedConnection>>();

async function acquire(url: string, log: Logger): Promise<SharedConnection> {
  let entry = connections.get(url);
  if (!entry) {
    entry = (async () => {
      const servers = url.split(',').map((s) => s.trim().replace(/^nats:\/\//, ''));
      // Reconnects forever: the bus only wakes and routes, and the site works without it meanwhile.
      // The client loads with the first connection: a site without a cluster never pays its memory.
      const { connect } = await import('@nats-io/transport-node');
      const nc = await connect({ servers, name: `hearth ${process.pid}`, timeout: 10_000, maxReconnectAttempts: -1, reconnectTimeWait: 500, pingInterval: 10_000 });
      const shared: SharedConnection = { nc, connected: true, users: 0 };
      void (async () => {
        for await (const status of nc.status()) {
          if (status.type === 'disconnect' || status.type === 'reconnecting') shared.connected = false;
          if (status.type === 'reconnect') {
            shared.connected = true;
            log.info('NATS connection back');
          }
        }
      })().catch(() => undefined);
      return shared;
    })();
    connections.set(url, entry);
    entry.catch(() => connections.delete(url));
  }
  const shared = await entry;
  shared.users++;
  return shared;
}

async function release(url: string): Promise<void> {
  const entry = connections.get(url);
  if (!entry) return;
  const shared = await entry;
  if (--shared.users > 0) return;
  connections.delete(url);
  await shared.nc.drain().catch(() => shared.nc.close());
}
