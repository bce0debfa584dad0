import { useCallback, useState, type FormEvent } from 'react';
import { api, session, takePrefetched, type ApiResponse, type Page, type Post } from '../api';

export const FIRST_PAGE = '/api/feed?limit=20';
import { addressFromInput } from '../address-input';
import { AddressList, backendHost, ErrorBox, Loading } from '../components';
import { Compose } from '../compose';
import { attempt, useLoad, useTitle, type Status } from '../hooks';
import { useLiveEvents, type LiveEvent } from '../live';
import { PostCard } from '../post-card';
import { navigate } from '../router';

/** My home: compose, my posts and those of the people I follow, who I follow and who follows me. */
export function HomeView() {
  const me = session.username;
  const feed = useLoad(() => takePrefetched<Page<Post>>(FIRST_PAGE) ?? api<Page<Post>>('GET', FIRST_PAGE), []);
  const [older, setOlder] = useState<Page<Post>>({ items: [], next: null });
  const following = useLoad(() => api<ApiResponse<'following'>>('GET', '/api/following'), []);
  const followers = useLoad(() => api<ApiResponse<'followers'>>('GET', '/api/followers'), []);
  const [follow, setFollow] = useState('');
  const [status, setStatus] = useState<Status>({});
  useTitle('Home · Hearth');
  const nextCursor = older.items.length ? older.next : (feed.data?.next ?? null);
  const loadOlder = () =>
    attempt(setStatus, async () => {
      const page = await api<Page<Post>>('GET', `/api/feed?limit=20&before=${encodeURIComponent(nextCursor!)}`);
      setOlder((o) => ({ items: [...o.items, ...page.items], next: page.next }));
    }, '');
  useLiveEvents(
    useCallback(
      (event: LiveEvent) => {
        // 'ready': the socket (re)connected, and anything pushed meanwhile was missed: look again.
        if (event.type === 'feed' || event.type === 'ready') feed.reload();
        if (event.type === 'notification' && event.kind === 'follow') followers.reload();
      },
      [feed.reload, followers.reload],
    ),
  );
  const change = (old: Post, updated: Post | null) => {
    // Sharing or unsharing adds or removes a "Shared by me" entry: the feed is asked again.
    if (updated && updated.repostedByMe !== old.repostedByMe) return feed.reload();
    const swap = (items: Post[]) => items.flatMap((p) => (p.author !== old.author || p.id !== old.id ? [p] : updated ? [{ ...updated, repostedBy: p.repostedBy, repostedAt: p.repostedAt }] : []));
    if (feed.data) feed.set({ ...feed.data, items: swap(feed.data.items) });
    setOlder((o) => ({ ...o, items: swap(o.items) }));
  };
  const unfollow = async (address: string) => {
    await attempt(setStatus, async () => {
      await api('DELETE', `/api/following/${encodeURIComponent(address)}`);
      following.reload();
      feed.reload();
    }, `You no longer follow ${address}.`);
  };
  const doFollow = async (event: FormEvent) => {
    event.preventDefault();
    let address = '';
    try {
      address = addressFromInput(follow);
    } catch (error) {
      setStatus({ error });
      return;
    }
    // Their profile card first (through my site), with the Follow button there.
    setFollow('');
    navigate(`/people/${encodeURIComponent(address)}`);
  };
  return (
    <main className="home">
      <h1>Home</h1>
      <Compose onPosted={(post) => feed.data && feed.set({ ...feed.data, items: [post, ...feed.data.items] })} />
      <form onSubmit={doFollow} className="row" aria-label="Find someone">
        <label htmlFor="follow" className="visually-hidden">Address or profile link of someone to follow</label>
        <input id="follow" placeholder="Find someone: name@example.com or a profile link" value={follow} onChange={(e) => setFollow(e.target.value)} required />
        <button type="submit" className="secondary">Find</button>
      </form>
      {status.message && <p role="status">{status.message}</p>}
      <ErrorBox error={status.error} />
      <section aria-label="Feed">
        <h2>Feed</h2>
        <ErrorBox error={feed.error} />
        {!feed.data && !feed.error && <Loading what="your feed" />}
        {feed.data?.items.length === 0 && <p className="empty">Nothing yet: write your first post, or find someone to follow above.</p>}
        {[...(feed.data?.items ?? []), ...older.items].map((p) => (
          // A post and a share of it are two entries: the sharer is part of the key.
          <PostCard key={`${p.repostedBy?.address ?? ''}:${p.author}/${p.id}`} post={p} onChange={(u) => change(p, u)} />
        ))}
        {nextCursor && <button type="button" className="secondary" onClick={() => void loadOlder()}>Load older posts</button>}
      </section>
      <AddressList label="Following" items={following.data?.items} empty="You follow no one yet." action={{ name: 'Unfollow', run: unfollow }} />
      <AddressList label="Followers" items={followers.data?.items} empty={`No followers yet: share your address, ${me}@${backendHost()}.`} />
    </main>
  );
}
