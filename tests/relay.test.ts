import {
  createEnvelope,
  deriveRelayKeyPair,
  generateSigningKeyPair,
  LIMITS,
  newEnvelopeId,
  parseAddress,
  RELAY_INBOX,
  sealForSite,
  type Address,
  type Envelope,
  type EnvelopeType,
  type MessageData,
} from '@hearth/protocol';
import { nodeSigner } from '@hearth/protocol/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTunnel, openVault, TunnelError, vaultSecrets, VaultLink, type VaultEvent } from '@hearth/vault';
import { hearth, SiteProcess, waitFor } from './helpers/sites.js';
import { DmSender, VAULT_PASSPHRASE, VaultProcess, vaultStatus } from './helpers/vault.js';

/**
 * The friends relay's refusals and its one-effect rule, on loopback with real sites: carol@C
 * relays for alice@A and bob@B. Every relay envelope here is made by hand (signed with the
 * sender's real site key), so each bad input reaches the relay or the destination exactly as a
 * misbehaving site would send it. (The path choice itself, with a blocked direct path, is in
 * relay-netns.test.ts.)
 */
describe('friends relay: what a relay and a destination refuse', { timeout: 120_000 }, () => {
  let a: SiteProcess;
  let b: SiteProcess;
  let c: SiteProcess;
  let d: SiteProcess;

  const addr = (site: SiteProcess, user: string): Address => parseAddress(site.address(user));
  const signer = (site: SiteProcess, user: string) => nodeSigner(site.siteKeyOf(user));
  const relayKeyOf = (site: SiteProcess) => deriveRelayKeyPair(site.siteConfig().serverKey.secretKey).publicKey;

  function envelope<T extends EnvelopeType>(site: SiteProcess, user: string, to: Address, type: T, data: MessageData[T]): Envelope<T> {
    return createEnvelope({ type, from: addr(site, user), to, data }, signer(site, user));
  }

  /** alice's post to bob, sealed for B, in a relay envelope from alice to carol. */
  function relayedPost(text: string, options: { id?: string; hops?: number; next?: SiteProcess; inner?: Envelope } = {}) {
    const inner = options.inner ?? envelope(a, 'alice', addr(b, 'bob'), 'post.create', { post: { id: options.id ?? newEnvelopeId().slice(-12), text, createdAt: new Date().toISOString() } });
    const next = addr(options.next ?? b, 'x');
    const outer = envelope(a, 'alice', addr(c, 'carol'), 'relay', { next: { host: next.host, port: next.port }, hops: options.hops ?? 1, sealed: sealForSite([JSON.stringify(inner)], relayKeyOf(options.next ?? b)) });
    return { inner, outer };
  }

  const post = (site: SiteProcess, env: unknown) => site.api('POST', '/federation/inbox', { raw: typeof env === 'string' ? env : JSON.stringify(env) });
  const postsAtB = (text: string) => b.count("select count(*) as n from remote_posts where text = ?", text);

  beforeAll(async () => {
    [a, b, c, d] = await Promise.all([SiteProcess.create(['alice']), SiteProcess.create(['bob']), SiteProcess.create(['carol']), SiteProcess.create(['dave'])]);
    await b.api('POST', '/api/following', { as: 'bob', body: { address: a.address('alice') } });
    for (const friend of [a.address('alice'), b.address('bob')]) {
      const res = await c.api('POST', '/api/relay/friends', { as: 'carol', body: { address: friend } });
      expect(res.status).toBe(200);
    }
    await c.api('POST', '/api/relay/friends', { as: 'carol', body: { address: d.address('dave') } });
  });
  afterAll(async () => {
    await Promise.all([a, b, c, d].map((s) => s?.destroy()));
  });

  it('passes a sealed envelope on: the destination takes it once, the relay keeps nothing readable, and counts it', async () => {
    const { inner, outer } = relayedPost('relayed hello');
    const res = await post(c, outer);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(postsAtB('relayed hello')).toBe(1);
    // The relay holds no copy once the destination acknowledged, and never the plaintext.
    expect(c.databaseBytes().includes('relayed hello')).toBe(false);
    expect(c.databaseBytes().includes(inner.id)).toBe(false);
    // Replaying the same inner envelope (in a new relay envelope) has no second effect.
    // The answer holds the destination's ack of the envelope inside, by its id.
    expect(res.body.results).toEqual([{ id: inner.id, ok: true }]);
    const again = relayedPost('relayed hello', { inner });
    const replay = await post(c, again.outer);
    expect(replay.body.results).toEqual([expect.objectContaining({ id: inner.id, ok: false, code: 'duplicate_envelope' })]);
    expect(postsAtB('relayed hello')).toBe(1);
    const stats = await waitFor('relay counts', async () => {
      const list = await c.api('GET', '/api/relay/friends', { as: 'carol' });
      const alice = list.body.friends.find((f: { address: string }) => f.address === a.address('alice'));
      return alice.today.envelopes >= 1 && alice;
    });
    expect(stats.today.bytes).toBeGreaterThan(0);
    expect(JSON.stringify(stats)).not.toContain('relayed hello');
  });

  it('the destination refuses an inner envelope altered on the way (bad_seal), or re-sealed by a relay that forged it (bad_signature)', async () => {
    const { outer } = relayedPost('tampered');
    // What a relay that flips a byte of the sealed envelope would hand on (signed by carol, as a relay's hop is).
    const sealed = { ...outer.data.sealed, ciphertext: outer.data.sealed.ciphertext.slice(0, 40) + (outer.data.sealed.ciphertext[40] === 'A' ? 'B' : 'A') + outer.data.sealed.ciphertext.slice(41) };
    const hop = envelope(c, 'carol', { ...addr(b, RELAY_INBOX) }, 'relay', { next: outer.data.next, hops: 0, sealed });
    const altered = await post(b, hop);
    expect(altered.status).toBe(400);
    expect(altered.body.error.code).toBe('bad_seal');
    // A relay can seal anew (B's relay key is public), but cannot sign as alice.
    const forged = { ...envelope(a, 'alice', addr(b, 'bob'), 'post.create', { post: { id: 'forged1', text: 'tampered', createdAt: new Date().toISOString() } }) };
    forged.data = { post: { ...forged.data.post, text: 'tampered, changed' } };
    const resealed = envelope(c, 'carol', addr(b, RELAY_INBOX), 'relay', { next: outer.data.next, hops: 0, sealed: sealForSite([JSON.stringify(forged)], relayKeyOf(b)) });
    const refused = await post(b, resealed);
    expect(refused.body.results).toEqual([expect.objectContaining({ id: forged.id, ok: false, code: 'bad_signature', retryable: false })]);
    expect(b.count("select count(*) as n from remote_posts where text like 'tampered%'")).toBe(0);
  });

  it('refuses a relay envelope from someone not on the list', async () => {
    const inner = envelope(d, 'dave', addr(b, 'bob'), 'follow', {});
    const outer = envelope(d, 'dave', addr(c, 'carol'), 'relay', { next: { host: addr(b, 'x').host, port: addr(b, 'x').port }, hops: 1, sealed: sealForSite([JSON.stringify(inner)], relayKeyOf(b)) });
    // dave is on carol's list as a destination, so make him a stranger to carol first.
    await c.api('DELETE', `/api/relay/friends/${encodeURIComponent(d.address('dave'))}`, { as: 'carol' });
    const res = await post(c, outer);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('relay_not_allowed');
    expect(res.body.error.message).toContain('does not relay for');
    expect(b.count('select count(*) as n from followers where follower = ?', d.address('dave'))).toBe(0);
  });

  it('refuses a relay envelope whose next hop is a site it serves nobody on', async () => {
    const { outer } = relayedPost('to nowhere', { next: d });
    const res = await post(c, outer);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('relay_not_served');
    expect(c.count('select count(*) as n from outbox')).toBe(0);
  });

  it('stops a loop by its hop limit: an envelope handed back with no hops left is refused', async () => {
    // A→C→D→C: D passes the envelope back to C with the hop count it has left, 0.
    const { outer } = relayedPost('loop', { hops: 2 });
    await c.api('POST', '/api/relay/friends', { as: 'carol', body: { address: d.address('dave') } });
    const back = envelope(d, 'dave', addr(c, 'carol'), 'relay', { next: outer.data.next, hops: 0, sealed: outer.data.sealed });
    const res = await post(c, back);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('hop_limit');
    // And nobody may ask for more hops than the protocol allows.
    const greedy = { ...outer, data: { ...outer.data, hops: LIMITS.relayHops + 1 } };
    expect((await post(c, greedy)).body.error.code).toBe('invalid_data');
    expect(postsAtB('loop')).toBe(0);
  });

  it('refuses an oversized relay envelope before reading it', async () => {
    const { outer } = relayedPost('big');
    const huge = JSON.stringify({ ...outer, data: { ...outer.data, sealed: { ...outer.data.sealed, ciphertext: 'A'.repeat(LIMITS.relayEnvelopeBytes) } } });
    const res = await post(c, huge);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('too_large');
    // An ordinary envelope may not use the relay envelope's larger limit.
    const fat = envelope(a, 'alice', addr(b, 'bob'), 'follow', {});
    const padded = JSON.stringify(fat).replace('"data":{}', `"data":{},"pad":"${'x'.repeat(LIMITS.envelopeBytes)}"`);
    expect((await post(b, padded)).status).toBe(413);
  });

  it('carries a friend\'s home vault to its own site through a tunnel when the site cannot be reached, and refuses strangers and forged hellos', async () => {
    const vault = await VaultProcess.pair(a, 'alice');
    const store = await openVault(vault.dir, VAULT_PASSPHRASE);
    const secrets = vaultSecrets(store, vault.dir);
    const me = { address: secrets.config.address, device: secrets.device, siteOrigin: secrets.config.origin };
    const carol = { address: c.address('carol'), origin: c.publicUrl };
    // The vault's own way to its site leads nowhere (a closed port): only the relay is left.
    const cutOff = { ...secrets, config: { ...secrets.config, site: 'http://127.0.0.1:9' } };
    const link = new VaultLink(store, cutOff, [carol]);
    const events: VaultEvent[] = [];
    link.on('event', (event: VaultEvent) => events.push(event));
    try {
      link.start();
      await waitFor('the vault linked through carol', () => events.some((e) => e.type === 'connected' && e.via === carol.address), 60_000);
      expect((await vaultStatus(a, 'alice')).online).toBe(true);
      const words = `through the tunnel ${newEnvelopeId()}`;
      await (await DmSender.create(b, 'bob')).send(a.address('alice'), [words]);
      await waitFor('the DM stored in the vault', () => store.list(secrets.config.address).some((m) => m.text === words), 60_000);
      // The relay counted the tunnel for alice (an opening and its bytes), and holds none of it.
      await waitFor('the tunnel counted', async () => {
        const list = await c.api('GET', '/api/relay/friends', { as: 'carol' });
        const alice = list.body.friends.find((f: { address: string }) => f.address === a.address('alice'));
        return alice.today.bytes > 0 ? alice : undefined;
      });
      expect(c.databaseBytes().includes(words)).toBe(false);

      // Refusals, each before any pipe is opened: a relay that does not list alice, a relaying
      // person who does not exist, a hello signed by a key alice never certified.
      const refusal = (relay: { address: string; origin: string }, who = me) => openTunnel(relay, who, () => undefined).then(() => 'opened', (error: TunnelError) => error.code);
      expect(await refusal({ address: d.address('dave'), origin: d.publicUrl })).toBe('relay_not_allowed');
      expect(await refusal({ address: c.address('nobody'), origin: c.publicUrl })).toBe('relay_not_allowed');
      const forged = { ...me, device: { ...me.device, sign: generateSigningKeyPair() } };
      expect(await refusal(carol, forged)).toBe('bad_signature');
      // A proof made for another relay is refused here: it names the origin it was made for.
      expect(await refusal({ address: carol.address, origin: c.url.replace('127.0.0.1', 'localhost') })).toBe('bad_signature');
    } finally {
      await link.stop();
      store.close();
      await vault.destroy();
    }
  });

  it('refuses a friend past their rate with Retry-After, and still serves other friends', async () => {
    await c.api('POST', '/api/relay/friends', { as: 'carol', body: { address: a.address('alice'), perMinute: 3 } });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await post(c, relayedPost(`flood ${i}`).outer));
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202, 429, 429]);
    expect(answers[3]!.body.error.code).toBe('relay_rate_limited');
    expect(Number(answers[3]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(postsAtB('flood 3')).toBe(0);
    // bob is another friend: his envelopes still go through.
    const inner = envelope(b, 'bob', addr(a, 'alice'), 'follow', {});
    const fromBob = envelope(b, 'bob', addr(c, 'carol'), 'relay', { next: { host: addr(a, 'x').host, port: addr(a, 'x').port }, hops: 1, sealed: sealForSite([JSON.stringify(inner)], relayKeyOf(a)) });
    const res = await post(c, fromBob);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await waitFor('the refusals counted', async () => {
      const list = await c.api('GET', '/api/relay/friends', { as: 'carol' });
      return list.body.friends.find((f: { address: string }) => f.address === a.address('alice')).today.refused >= 2;
    });
  });

  it('settings: the lists take clear errors, and the discovery document advertises the relays, signed', async () => {
    const bad = await c.api('POST', '/api/relay/friends', { as: 'carol', body: { address: 'not an address' } });
    expect(bad.status).toBe(400);
    const self = await c.api('POST', '/api/relay/mine', { as: 'carol', body: { address: c.address('carol') } });
    expect(self.status).toBe(400);
    expect(self.body.error.message).toContain('own address');
    const limits = await c.api('POST', '/api/relay/friends', { as: 'carol', body: { address: a.address('alice'), perMinute: 0 } });
    expect(limits.status).toBe(400);
    expect((await c.api('GET', '/api/relay/friends')).status).toBe(401);
    const added = await a.api('POST', '/api/relay/mine', { as: 'alice', body: { address: c.address('carol') } });
    expect(added.body.relays).toEqual([c.address('carol')]);
    const doc = await a.api('GET', '/.well-known/hearth');
    expect(doc.body.relay.relays).toEqual([c.address('carol')]);
    expect(doc.body.relay.key).toBe(relayKeyOf(a));
    expect(doc.body.relay.sig).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect((await c.api('DELETE', `/api/relay/mine/${encodeURIComponent(a.address('alice'))}`, { as: 'carol' })).status).toBe(404);
  });

  it('the CLI lists, changes and stops relaying, and a stop takes effect at the next envelope', async () => {
    const list = await hearth(['relay', 'list', '--data', c.dataDir]);
    expect(list.stdout).toContain(`carol relays for:`);
    expect(list.stdout).toContain(a.address('alice'));
    const denied = await hearth(['relay', 'deny', b.address('bob'), '--data', c.dataDir]);
    expect(denied.stdout).toContain('no longer relays for');
    const inner = envelope(b, 'bob', addr(a, 'alice'), 'follow', {});
    const fromBob = envelope(b, 'bob', addr(c, 'carol'), 'relay', { next: { host: addr(a, 'x').host, port: addr(a, 'x').port }, hops: 1, sealed: sealForSite([JSON.stringify(inner)], relayKeyOf(a)) });
    expect((await post(c, fromBob)).body.error.code).toBe('relay_not_allowed');
    const again = await hearth(['relay', 'deny', b.address('bob'), '--data', c.dataDir], { allowFailure: true });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('does not relay for');
    const hops = await hearth(['relay', 'hops', '3', '--data', c.dataDir], { allowFailure: true });
    expect(hops.code).toBe(2);
    expect(hops.stderr).toContain('say 1');
    const bad = await hearth(['relay', 'allow', 'nobody', '--data', c.dataDir], { allowFailure: true });
    expect(bad.code).toBe(2);
    const allowed = await hearth(['relay', 'allow', b.address('bob'), '--per-minute', '10', '--mb-per-day', '5', '--data', c.dataDir]);
    expect(allowed.stdout).toContain('up to 10 envelopes a minute and 5.0 MB a day');
  });

  it('relays for mutual follows only when the owner turns it on', async () => {
    await c.api('DELETE', `/api/relay/friends/${encodeURIComponent(d.address('dave'))}`, { as: 'carol' });
    const fromDave = () => {
      const inner = envelope(d, 'dave', addr(b, 'bob'), 'follow', {});
      return envelope(d, 'dave', addr(c, 'carol'), 'relay', { next: { host: addr(b, 'x').host, port: addr(b, 'x').port }, hops: 1, sealed: sealForSite([JSON.stringify(inner)], relayKeyOf(b)) });
    };
    await c.api('POST', '/api/following', { as: 'carol', body: { address: d.address('dave') } });
    await d.api('POST', '/api/following', { as: 'dave', body: { address: c.address('carol') } });
    await waitFor('carol and dave follow each other', () => c.count('select count(*) as n from followers where follower = ?', d.address('dave')) === 1);
    expect((await post(c, fromDave())).body.error.code).toBe('relay_not_allowed');
    expect((await c.api('PUT', '/api/relay/settings', { as: 'carol', body: { mutuals: true } })).body).toEqual({ mutuals: true });
    const res = await post(c, fromDave());
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const list = await c.api('GET', '/api/relay/friends', { as: 'carol' });
    expect(list.body.mutuals).toBe(true);
    expect(list.body.friends.find((f: { address: string }) => f.address === d.address('dave'))).toMatchObject({ mutual: true, today: { envelopes: 1 } });
    const off = await hearth(['relay', 'mutuals', 'off', '--data', c.dataDir]);
    expect(off.stdout).toContain('only for the people on their list');
    expect((await post(c, fromDave())).body.error.code).toBe('relay_not_allowed');
  });
});
