import crypto from 'node:crypto';
import { generateAgreementKeyPair, newEnvelopeId, sealForSite } from '@hearth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { blockBetween, routeBetweenNetworks, TestNetwork } from './helpers/netns.js';
import { HEARTH, hearth, SiteProcess, tempDir, waitFor } from './helpers/sites.js';
import { VaultProcess, vaultStatus } from './helpers/vault.js';

/**
 * The friends relay with real hosts: four sites, each in a network namespace of its own, routed
 * through this host. A firewall rule drops everything between A (alice) and B (bob); C (carol)
 * and D (dave) can reach both and relay for both. Nothing is configured per test beyond what a
 * person does in settings: carol and dave each list alice and bob, and alice and bob each list
 * carol then dave as their relays.
 */
describe('friends relay across a blocked path', { timeout: 600_000 }, () => {
  const nets: Record<'a' | 'b' | 'c' | 'd', TestNetwork> = {} as never;
  let a: SiteProcess;
  let b: SiteProcess;
  let c: SiteProcess;
  let d: SiteProcess;
  let undoRoute: () => void;
  let unblock: (() => void) | undefined;
  let vault: VaultProcess | undefined;
  const aliceProfile = tempDir('alice-device');
  const bobProfile = tempDir('bob-device');

  const feedOfBob = async () => (await b.api('GET', '/api/feed', { as: 'bob' })).body.items as Array<{ text: string; author: string; id: string }>;
  const postAsAlice = async (text: string) => {
    const res = await a.api('POST', '/api/posts', { as: 'alice', body: { text } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string };
  };
  const pathFromAlice = async () => (await a.api('GET', '/api/relay/paths', { as: 'alice' })).body.paths.find((p: { site: string }) => p.site === b.host) as { via: string | null } | undefined;
  /** What an outbox still holds, for a failure message: how often each row was tried, why, and when next. */
  const pendingRows = (site: SiteProcess) => site.query("select dest_port, attempts, next_attempt_at, last_error from outbox where status = 'pending'");
  const relayedFor = async (relay: SiteProcess, user: string, friend: string) =>
    (await relay.api('GET', '/api/relay/friends', { as: user })).body.friends.find((f: { address: string }) => f.address === friend)?.total.envelopes as number;

  beforeAll(async () => {
    for (const key of ['a', 'b', 'c', 'd'] as const) nets[key] = TestNetwork.create(`r${key}`);
    undoRoute = routeBetweenNetworks();
    [a, b, c, d] = await Promise.all(
      ([['a', 'alice'], ['b', 'bob'], ['c', 'carol'], ['d', 'dave']] as const).map(([key, user]) => SiteProcess.create([user], { netns: { prefix: nets[key].prefix, ip: nets[key].innerIp } })),
    );
    for (const [relay, user] of [[c, 'carol'], [d, 'dave']] as const) {
      for (const friend of [a.address('alice'), b.address('bob')]) expect((await relay.api('POST', '/api/relay/friends', { as: user, body: { address: friend } })).status).toBe(200);
    }
    for (const [site, user] of [[a, 'alice'], [b, 'bob']] as const) {
      for (const relay of [c.address('carol'), d.address('dave')]) expect((await site.api('POST', '/api/relay/mine', { as: user, body: { address: relay } })).status).toBe(200);
    }
    // alice posts before anyone follows her: bob's site must pull it.
    await postAsAlice('written before bob followed');
    unblock = blockBetween(nets.a, nets.b);
    await hearth(['login', '--profile', aliceProfile, '--site', a.url, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    await hearth(['login', '--profile', bobProfile, '--site', b.url, '--user', 'bob', '--password', SiteProcess.password('bob')]);
  });
  afterAll(async () => {
    if (process.env.RELAY_TEST_LOGS) for (const [name, site] of Object.entries({ a, b, c, d })) console.log(`---- ${name}\n${site?.log.split('\n').filter((l) => !/request completed|incoming request/.test(l)).slice(-150).join('\n')}`);
    if (process.env.RELAY_TEST_LOGS && vault) console.log(`---- vault\n${vault.log}`);
    await vault?.destroy();
    await Promise.all([a, b, c, d].map((s) => s?.destroy()));
    unblock?.();
    undoRoute?.();
    for (const net of Object.values(nets)) net?.destroy();
  });

  it('A and B really cannot reach each other; both reach C', () => {
    const tcp = (from: TestNetwork, site: SiteProcess) => from.exec('timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${site.publicHost}/${site.port}`);
    expect(() => tcp(nets.a, b)).toThrow();
    expect(() => tcp(nets.b, a)).toThrow();
    expect(() => tcp(nets.a, c)).not.toThrow();
    expect(() => tcp(nets.b, c)).not.toThrow();
  });

  it('bob follows alice through C and pulls her earlier post; her new post reaches his feed', async () => {
    const follow = await b.api('POST', '/api/following', { as: 'bob', body: { address: a.address('alice') } });
    expect(follow.status, JSON.stringify(follow.body)).toBeLessThan(300);
    await waitFor('bob among alice\'s followers', async () => (await a.api('GET', '/api/followers', { as: 'alice' })).body.items.some((f: { address: string }) => f.address === b.address('bob')), 120_000, 250);
    await waitFor('the earlier post pulled through C', async () => (await feedOfBob()).some((p) => p.text === 'written before bob followed'), 120_000, 250);
    const secretWords = `relayed words ${crypto.randomUUID()}`;
    await postAsAlice(secretWords);
    await waitFor('the new post in bob\'s feed', async () => (await feedOfBob()).some((p) => p.text === secretWords), 120_000, 250);
    expect((await pathFromAlice())?.via).toBe(c.address('carol'));
    // alice sees it on bob's page too.
    const bobsPage = await a.api('GET', `/api/people/${encodeURIComponent(b.address('bob'))}`, { as: 'alice' });
    expect(bobsPage.body.relayedVia?.relay).toBe(c.address('carol'));
    // C passed it on without ever holding it readable.
    expect(c.databaseBytes().includes(secretWords)).toBe(false);
    expect(await relayedFor(c, 'carol', a.address('alice'))).toBeGreaterThan(0);
  });

  it('bob comments on and likes alice\'s post, and alice follows him back, through C', async () => {
    const post = (await feedOfBob()).find((p) => p.text === 'written before bob followed')!;
    expect((await b.api('POST', '/api/likes', { as: 'bob', body: { post: { author: a.address('alice'), id: post.id } } })).status).toBe(202);
    await waitFor('the like at alice\'s site', async () => (await a.api('GET', `/api/users/alice/posts/${post.id}`)).body.likeCount === 1, 120_000, 250);
    const comment = await b.api('POST', '/api/comments', { as: 'bob', body: { post: { author: a.address('alice'), id: post.id }, text: 'seen through a friend' } });
    expect(comment.status, JSON.stringify(comment.body)).toBeLessThan(300);
    await waitFor('the comment at alice\'s site', async () => (await a.api('GET', `/api/users/alice/posts/${post.id}`)).body.comments?.some((k: { text: string }) => k.text === 'seen through a friend'), 120_000, 250);
    const back = await a.api('POST', '/api/following', { as: 'alice', body: { address: b.address('bob') } });
    expect(back.status, JSON.stringify(back.body)).toBeLessThan(300);
    await waitFor('alice among bob\'s followers', async () => (await b.api('GET', '/api/followers', { as: 'bob' })).body.items.some((f: { address: string }) => f.address === a.address('alice')), 120_000, 250);
  });

  it('alice\'s DM reaches bob\'s device through C, and C holds neither its plaintext nor the envelope in the clear', async () => {
    const secret = `meet at the bridge ${crypto.randomUUID()}`;
    const sent = await hearth(['dm', 'send', '--profile', aliceProfile, b.address('bob'), secret]);
    expect(sent.stdout).toMatch(/encrypted to/);
    const received = await waitFor('the DM on bob\'s device', async () => {
      const list = JSON.parse((await hearth(['dm', 'list', '--profile', bobProfile, '--json'])).stdout) as { messages: Array<{ text: string }> };
      return list.messages.some((m) => m.text === secret) && list;
    }, 120_000, 500);
    expect(received.messages.filter((m) => m.text === secret)).toHaveLength(1);
    const dmIds = b.query<{ envelope_id: string }>('select envelope_id from dm_messages');
    const onC = c.databaseBytes();
    expect(onC.includes(secret)).toBe(false);
    for (const { envelope_id } of dmIds) expect(onC.includes(envelope_id)).toBe(false);
    expect(onC.includes('"type":"dm"')).toBe(false);
  });

  it('a call rings bob\'s open page through C', async () => {
    const socket = new WebSocket(`${b.url.replace('http', 'ws')}/api/live`);
    const events: Array<{ type: string; from?: string }> = [];
    socket.on('message', (data) => events.push(JSON.parse(String(data))));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ token: await b.token('bob') }));
    await waitFor('the live socket', () => events.some((e) => e.type === 'ready'));
    const ring = await a.api('POST', '/api/calls/signal', { as: 'alice', body: { to: b.address('bob'), callId: newEnvelopeId().slice(-20), sealed: sealForSite(['{}'], generateAgreementKeyPair().publicKey) } });
    expect(ring.status, JSON.stringify(ring.body)).toBe(202);
    await waitFor('the ring', () => events.some((e) => e.type === 'call' && e.from === a.address('alice')), 30_000);
    socket.close();
  });

  it('alice\'s home vault, cut off from her site, links through C and keeps syncing her DMs', async () => {
    // Paired and first started where it reaches A, so it learns alice's relays from her site...
    const paired = await VaultProcess.pair(a, 'alice');
    paired.start();
    await waitFor('the vault linked directly', async () => (await vaultStatus(a, 'alice')).online, 60_000);
    await paired.stop();
    // ...then it runs in B's network, which cannot reach A: it must go through carol.
    vault = new VaultProcess(paired.dir, [...nets.b.prefix, process.execPath, HEARTH]);
    vault.start();
    await waitFor('the vault linked through carol', () => vault!.log.includes(`through ${c.address('carol')}'s relay`), 120_000, 250);
    const words = `to the vault through C ${crypto.randomUUID()}`;
    await hearth(['dm', 'send', '--profile', bobProfile, a.address('alice'), words]);
    await waitFor('the DM in the vault', async () => (await vault!.messages()).some((m) => m.text === words), 120_000, 500);
    expect(c.databaseBytes().includes(words)).toBe(false);
  });

  it('when the rule is lifted, traffic goes direct again', async () => {
    expect((await pathFromAlice())?.via).toBe(c.address('carol'));
    unblock!();
    unblock = undefined;
    await waitFor('the direct path back in use', async () => (await pathFromAlice())?.via === null, 300_000, 500);
    // The vault finds the direct path too, and links to A without C.
    await waitFor('the vault linked directly again', () => vault!.log.split('\n').some((line, i, lines) => /^Connected to /.test(line) && !line.includes('through') && lines.slice(0, i).some((l) => l.includes('through'))), 120_000, 250);
    await vault!.destroy();
    vault = undefined;
    const before = await relayedFor(c, 'carol', a.address('alice'));
    const words = `direct again ${crypto.randomUUID()}`;
    await postAsAlice(words);
    await waitFor('the direct post', async () => (await feedOfBob()).some((p) => p.text === words), 60_000, 250);
    expect(await relayedFor(c, 'carol', a.address('alice'))).toBe(before);
  });

  it('with C killed mid-stream, delivery fails over to D with no loss and no duplicate; with every path down, posts wait and arrive once', async () => {
    unblock = blockBetween(nets.a, nets.b);
    // The block is found, and C is the path again.
    const first = `stream 0 ${crypto.randomUUID()}`;
    await postAsAlice(first);
    await waitFor('the first post through C', async () => (await feedOfBob()).some((p) => p.text === first), 180_000, 250);
    expect((await pathFromAlice())?.via).toBe(c.address('carol'));
    const stream = Array.from({ length: 30 }, (_, i) => `stream ${i + 1} ${crypto.randomUUID()}`);
    for (const [i, text] of stream.entries()) {
      await postAsAlice(text);
      if (i === 5) await c.stop('SIGKILL');
    }
    const atBob = (texts: string[]) => texts.filter((t) => b.count('select count(*) as n from remote_posts where text = ?', t) > 0).length;
    await waitFor('every post of the stream at bob', () => atBob(stream) === stream.length, 180_000, 500);
    expect((await pathFromAlice())?.via).toBe(d.address('dave'));
    for (const text of stream) expect(b.count('select count(*) as n from remote_posts where text = ?', text)).toBe(1);

    // Every path down: the posts wait in alice's outbox.
    await d.stop('SIGKILL');
    const waiting = Array.from({ length: 3 }, (_, i) => `waiting ${i} ${crypto.randomUUID()}`);
    for (const text of waiting) await postAsAlice(text);
    await waitFor('the posts queued at alice', () => a.count("select count(*) as n from outbox where status = 'pending'") >= 3, 30_000);
    expect(atBob(waiting)).toBe(0);
    // Both relays come back (C with whatever it still held): each post arrives exactly once.
    await Promise.all([c.start(), d.start()]);
    await waitFor('the waiting posts at bob', () => atBob(waiting) === waiting.length, 300_000, 500);
    await waitFor('both relays idle', () => c.count("select count(*) as n from outbox where status = 'pending'") === 0 && d.count("select count(*) as n from outbox where status = 'pending'") === 0, 120_000, 500);
    for (const text of [...stream, ...waiting]) expect(b.count('select count(*) as n from remote_posts where text = ?', text)).toBe(1);
  });

  it('with two hops allowed, an envelope takes a second relay when the first cannot reach the destination (A to C to D to B)', async () => {
    // A now reaches only C, and C cannot reach B; D reaches B and relays for carol, who uses D as her relay.
    const undo = [blockBetween(nets.a, nets.d), blockBetween(nets.c, nets.b)];
    try {
      expect((await d.api('POST', '/api/relay/friends', { as: 'dave', body: { address: c.address('carol') } })).status).toBe(200);
      // carol's own traffic may go through dave: that is the second relay C uses.
      expect((await c.api('POST', '/api/relay/mine', { as: 'carol', body: { address: d.address('dave') } })).status).toBe(200);
      const set = await hearth(['relay', 'hops', '2', '--data', a.dataDir]);
      expect(set.stdout).toContain('Restart the site');
      await a.stop();
      await a.start();
      const words = `two hops ${crypto.randomUUID()}`;
      await postAsAlice(words);
      const atBob = () => b.count('select count(*) as n from remote_posts where text = ?', words);
      await waitFor('the post at bob through C and then D', () => atBob() === 1, 240_000, 500);
      expect(await relayedFor(d, 'dave', c.address('carol'))).toBeGreaterThan(0);
      await waitFor('alice\'s outbox settled', () => a.count("select count(*) as n from outbox where status = 'pending'") === 0, 120_000, 500).catch((error: Error) => {
        throw new Error(`${error.message}; pending: ${JSON.stringify({ a: pendingRows(a), c: pendingRows(c), d: pendingRows(d) })}`);
      });
      expect(atBob()).toBe(1);
    } finally {
      for (const lift of undo) lift();
    }
  });
});
