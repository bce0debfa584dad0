import crypto from 'node:crypto';
import { linkProofBytes, nobleSigner, toBase64url } from '@hearth/protocol';
import WebSocket from 'ws';
import { waitFor, type SiteProcess } from './sites.js';

/**
 * Dials `server`'s /federation as `client`'s site and answers the challenge with `key`'s
 * signature (the client's real server key unless a test passes another). Frames received are
 * collected in `frames`, parsed.
 */
export async function dialLink(client: SiteProcess, server: SiteProcess, key = client.siteConfig().serverKey): Promise<{ ws: WebSocket; frames: any[] }> {
  const clientSite = { host: '127.0.0.1', port: client.port };
  const serverSite = { host: '127.0.0.1', port: server.port };
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/federation`);
  const frames: any[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ t: 'hello', v: 1, client: clientSite, server: serverSite, nonce: toBase64url(crypto.randomBytes(24)) }));
  const challenge = await waitFor('challenge', () => frames.find((f) => f.t === 'challenge'));
  ws.send(JSON.stringify({ t: 'auth', sig: toBase64url(nobleSigner(key).sign(linkProofBytes('client', clientSite, serverSite, challenge.nonce))) }));
  return { ws, frames };
}

/** Sends one envelope frame (text, sent as is) and waits for its ack. */
export async function sendOverLink(link: { ws: WebSocket; frames: any[] }, id: string, frameText: string): Promise<any> {
  link.ws.send(frameText);
  return waitFor(`ack of ${id}`, () => link.frames.find((f) => f.t === 'ack' && f.id === id));
}
