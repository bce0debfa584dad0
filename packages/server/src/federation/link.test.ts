import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { Link, type AckResult } from './link.js';

/** Two Links over a real WebSocket on loopback: `client` dials, `server` answers every envelope. */
async function linkedPair(onEnvelope: (env: unknown) => Promise<AckResult>) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const socket = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const server = new Link({ host: '127.0.0.1', port: 1 }, 'in', await accepted, (env) => onEnvelope(env));
  const client = new Link({ host: '127.0.0.1', port: 2 }, 'out', socket, () => Promise.resolve({ ok: true }));
  return { wss, client, server, clientTcp: (socket as unknown as { _socket: Socket })._socket };
}

/** Counts the writes a TCP socket hands to the system (one call each, however many frames). */
function countWrites(tcp: Socket): () => number {
  let writes = 0;
  const internals = tcp as unknown as { _write: (...a: unknown[]) => unknown; _writev: (...a: unknown[]) => unknown };
  for (const name of ['_write', '_writev'] as const) {
    const original = internals[name].bind(tcp);
    internals[name] = (...args: unknown[]) => {
      writes++;
      return original(...args);
    };
  }
  return () => writes;
}

const envelope = (i: number) => JSON.stringify({ id: `env-${i}`, type: 'post.create', data: { text: `post ${i} `.repeat(20) } });

describe('a link between two sites', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const done of cleanup.splice(0)) done();
  });

  it('sends a burst of envelopes in one write, and each gets its own ack', async () => {
    const received: string[] = [];
    const { wss, client, server, clientTcp } = await linkedPair(async (env) => {
      const id = (env as { id: string }).id;
      received.push(id);
      return id === 'env-7' ? { ok: false, code: 'invalid_envelope', message: 'no', retryable: false } : { ok: true };
    });
    cleanup.push(() => {
      client.close();
      server.close();
      wss.close();
    });
    const writes = countWrites(clientTcp);
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => client.send(envelope(i), `env-${i}`)));
    expect(received).toEqual(Array.from({ length: 50 }, (_, i) => `env-${i}`));
    expect(acks.filter((ack) => ack.ok)).toHaveLength(49);
    expect(acks[7]).toMatchObject({ ok: false, code: 'invalid_envelope' });
    // 50 frames, one system call (without corking: one each, or a few once the socket backs up).
    expect(writes()).toBe(1);
  });

  it('sends envelopes apart in time as they come, without waiting for more', async () => {
    const { wss, client, server } = await linkedPair(async () => ({ ok: true }));
    cleanup.push(() => {
      client.close();
      server.close();
      wss.close();
    });
    for (let i = 0; i < 5; i++) expect(await client.send(envelope(i), `env-${i}`)).toEqual({ ok: true });
  });
});
