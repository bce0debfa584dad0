import path from 'node:path';
import { formatAddress, formatSite, HearthError, parseAddress, sameSite } from '@hearth/protocol';
import { addMyRelay, Context, listUsernames, loadSiteConfig, updateSiteConfigFile, myRelays, putRelayFriend, relayFriends, relaysForMutuals, relayStats, removeMyRelay, removeRelayFriend, setRelayForMutuals, utcDay } from '@hearth/server';
import { CliError } from '../errors.js';

export interface RelayOptions {
  data: string;
  user?: string;
}

/**
 * `hearth relay ...`: the friends relay from the machine that runs the site (the same lists as
 * Settings, written to the site's database; a running site reads them for each envelope, so a
 * change takes effect at once).
 */
async function withSite<T>(options: RelayOptions, run: (ctx: Context, username: string) => Promise<T>): Promise<T> {
  const config = loadSiteConfig(path.resolve(options.data));
  const ctx = await Context.open({ config, logLevel: 'silent' });
  try {
    const users = await listUsernames(ctx.db);
    let username = options.user;
    if (username === undefined) {
      if (users.length !== 1) throw new CliError(`this site has ${users.length} users (${users.join(', ')}): say whose relay with --user NAME`, 2);
      username = users[0]!;
    } else if (!users.includes(username)) {
      throw new CliError(`no user ${username} on this site (there are: ${users.join(', ')})`, 2);
    }
    return await run(ctx, username);
  } finally {
    await ctx.close();
  }
}

function otherAddress(ctx: Context, text: string): string {
  let address;
  try {
    address = parseAddress(text);
  } catch (error) {
    throw new CliError((error as HearthError).message, 2);
  }
  if (sameSite(address, ctx.site)) throw new CliError(`${formatAddress(address)} is on this site: a relay is for people on other sites`, 2);
  return formatAddress(address);
}

function positive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`${flag} must be a number above 0`, 2);
  return n;
}

const size = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`);

export async function relayAllow(options: RelayOptions & { address: string; perMinute?: string; mbPerDay?: string }, out: (line: string) => void): Promise<void> {
  await withSite(options, async (ctx, username) => {
    const perMinute = positive(options.perMinute, '--per-minute');
    const mb = positive(options.mbPerDay, '--mb-per-day');
    const friend = await putRelayFriend(ctx.db, username, otherAddress(ctx, options.address), { perMinute: perMinute && Math.round(perMinute), bytesPerDay: mb && Math.round(mb * 1024 * 1024) }, Date.now());
    out(`${username} relays for ${friend.address}: up to ${friend.perMinute} envelopes a minute and ${size(friend.bytesPerDay)} a day.`);
  });
}

export async function relayDeny(options: RelayOptions & { address: string }, out: (line: string) => void): Promise<void> {
  await withSite(options, async (ctx, username) => {
    const address = otherAddress(ctx, options.address);
    if (!(await removeRelayFriend(ctx.db, username, address))) throw new CliError(`${username} does not relay for ${address}`, 1);
    out(`${username} no longer relays for ${address}; this takes effect with the next envelope.`);
  });
}

export async function relayList(options: RelayOptions, out: (line: string) => void): Promise<void> {
  await withSite(options, async (ctx, username) => {
    const [friends, stats, mine, mutuals] = await Promise.all([relayFriends(ctx.db, username), relayStats(ctx.db, username, utcDay(Date.now())), myRelays(ctx.db, username), relaysForMutuals(ctx.db, username)]);
    if (mutuals) out(`${username} also relays for everyone they follow who follows them back (hearth relay mutuals off to stop).`);
    if (friends.length === 0) out(`${username} relays for nobody. Add a friend with: hearth relay allow NAME@HOST`);
    else out(`${username} relays for:`);
    for (const f of friends) {
      const s = stats.get(f.address);
      out(`  ${f.address}  limits ${f.perMinute}/min, ${size(f.bytesPerDay)}/day; today ${s?.today.envelopes ?? 0} envelopes (${size(s?.today.bytes ?? 0)}), ${s?.today.refused ?? 0} refused; in all ${s?.total.envelopes ?? 0}`);
    }
    out(mine.length === 0 ? `${username} uses no relay. Add one with: hearth relay use NAME@HOST` : `${username}'s relays, in order: ${mine.join(', ')}`);
    const paths = [...(await ctx.relayPaths.all())].filter(([, state]) => state.via !== null);
    for (const [site, state] of paths) out(`Reaching ${site} through ${state.via} since ${new Date(state.since).toISOString()}`);
  });
}

export async function relayUse(options: RelayOptions & { address: string }, out: (line: string) => void): Promise<void> {
  await withSite(options, async (ctx, username) => {
    const relays = await addMyRelay(ctx.db, username, otherAddress(ctx, options.address), Date.now());
    out(`${username}'s relays, in order: ${relays.join(', ')}. The site advertises them; restart it to link to a new relay at once.`);
  });
}

export async function relayUnuse(options: RelayOptions & { address: string }, out: (line: string) => void): Promise<void> {
  await withSite(options, async (ctx, username) => {
    const address = otherAddress(ctx, options.address);
    if (!(await removeMyRelay(ctx.db, username, address))) throw new CliError(`${address} is not one of ${username}'s relays`, 1);
    out(`${username} no longer uses ${address} as a relay (${formatSite(parseAddress(address))}).`);
  });
}

export async function relayMutuals(options: RelayOptions & { state: string }, out: (line: string) => void): Promise<void> {
  if (options.state !== 'on' && options.state !== 'off') throw new CliError('say "on" or "off"', 2);
  await withSite(options, async (ctx, username) => {
    await setRelayForMutuals(ctx.db, username, options.state === 'on');
    out(options.state === 'on' ? `${username} now also relays for everyone they follow who follows them back.` : `${username} relays only for the people on their list.`);
  });
}

/** `hearth relay hops 1|2`: how many relays this site's relayed envelopes may pass (site-wide, read at start). */
export function relayHops(options: { data: string; hops: string }, out: (line: string) => void): void {
  if (options.hops !== '1' && options.hops !== '2') throw new CliError('say 1 (a relay passes your envelopes straight to their destination) or 2 (a relay may pass them through one more relay)', 2);
  const dataDir = path.resolve(options.data);
  loadSiteConfig(dataDir); // a clear error when there is no site here
  const hops = Number(options.hops);
  updateSiteConfigFile(dataDir, (raw) => {
    const { relayHops: _old, ...rest } = raw;
    return hops === 1 ? rest : { ...rest, relayHops: hops };
  });
  out(hops === 1 ? 'Relayed envelopes go through one relay, straight to their destination.' : 'Relayed envelopes may go through a second relay when the first cannot reach the destination (slower; for when a friend\'s relay is blocked too).');
  out('Restart the site (hearth start) for this to take effect.');
}
