import type { ApiResponse } from '@hearth/protocol/api';
import fs from 'node:fs';
import path from 'node:path';
import { createSiteConfig, Context, createUser, type RunningSite } from '@hearth/server';
import { ApiClient } from '../api-client.js';
import { runSite } from './site.js';

const PEOPLE = [
  { user: 'alice', name: 'Alice Liddell', posts: ['Hello from my own corner of the web!', 'Tea party at four. Bring a riddle.'] },
  { user: 'bob', name: 'Bob the Builder', posts: ['Just set up my Hearth site on a cheap VPS. Took two minutes.'] },
  { user: 'carol', name: 'Carol Danvers', posts: ['Writing about the sky tonight.'] },
];
const FOLLOWS: Array<[string, string]> = [
  ['alice', 'bob'], ['alice', 'carol'], ['bob', 'alice'], ['carol', 'alice'], ['carol', 'bob'],
];

export function demoPassword(user: string): string {
  return `${user}-demo-password`;
}

/** Three sites on loopback, alice, bob and carol, with a little content, following each other. */
export async function runDemo(options: { data: string; basePort: number; log: (line: string) => void }): Promise<RunningSite[]> {
  const sites: RunningSite[] = [];
  try {
    return await setUpDemo(options, sites);
  } catch (error) {
    // Whatever started must stop, or its open server would keep the process alive after the error.
    for (const site of sites) await site.close().catch(() => undefined);
    throw error;
  }
}

async function setUpDemo(options: { data: string; basePort: number; log: (line: string) => void }, sites: RunningSite[]): Promise<RunningSite[]> {
  const root = path.resolve(options.data);
  for (const [i, person] of PEOPLE.entries()) {
    const dir = path.join(root, person.user);
    const url = `http://127.0.0.1:${options.basePort + i}`;
    if (!fs.existsSync(path.join(dir, 'hearth.json'))) {
      const config = createSiteConfig(dir, { url, dev: true });
      const ctx = await Context.open({ config, logLevel: 'warn' });
      await createUser(ctx.db, { username: person.user, password: demoPassword(person.user), displayName: person.name }, Date.now());
      await ctx.close();
    }
    sites.push(await runSite({ data: dir, logLevel: 'warn' }));
  }
  const clients = new Map<string, ApiClient>();
  for (const [i, person] of PEOPLE.entries()) {
    const api = new ApiClient(sites[i]!.url);
    const { token } = await api.post<ApiResponse<'login'>>('/api/auth/login', { username: person.user, password: demoPassword(person.user) });
    clients.set(person.user, api.withToken(token));
  }
  const addressOf = (user: string) => `${user}@127.0.0.1:${options.basePort + PEOPLE.findIndex((p) => p.user === user)}`;
  for (const [from, to] of FOLLOWS) await clients.get(from)!.post('/api/following', { address: addressOf(to) });
  for (const person of PEOPLE) {
    const existing = await clients.get(person.user)!.get<ApiResponse<'userPosts'>>(`/api/users/${person.user}/posts`);
    if (existing.items.length === 0) for (const text of person.posts) await clients.get(person.user)!.post('/api/posts', { text });
  }
  options.log('Hearth demo: three sites on this machine, following each other.\n');
  for (const [i, person] of PEOPLE.entries()) {
    options.log(`  ${person.name.padEnd(16)} ${sites[i]!.url}/@${person.user}   address ${addressOf(person.user)}   login ${person.user} / ${demoPassword(person.user)}`);
  }
  options.log(`\nTry: curl -s ${sites[0]!.url}/api/users/alice/posts`);
  options.log(`Data is kept in ${root}; press Ctrl-C to stop.`);
  return sites;
}
