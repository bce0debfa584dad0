import { useCallback, useState } from 'react';
import { api, session, type Page, type Person, type Post, type PostDetail, type Profile } from '../api';
import { Avatar, ErrorBox, Loading, localName, plural, Text } from '../components';
import { attempt, useLoad, useTitle, type Status } from '../hooks';
import { PostCard } from '../post-card';
import { navigate } from '../router';
import { startCall } from '../calls';

export function ProfileHeader({ profile, children }: { profile: Pick<Profile, 'displayName' | 'address' | 'bio' | 'avatarUrl'> & { postCount?: number }; children?: React.ReactNode }) {
  return (
    <header className="profile">
      <Avatar name={profile.displayName} url={profile.avatarUrl} size={72} />
      <div className="profile-text">
        <h1>{profile.displayName}</h1>
        <p className="address">{profile.address}</p>
        {profile.bio && <div className="bio"><Text text={profile.bio} /></div>}
        {profile.postCount !== undefined && <p className="hint">{plural(profile.postCount, 'post')}</p>}
        {children}
      </div>
    </header>
  );
}

/**
 * A person's page. A visitor sees a person of this site from the public API; when I am logged
 * in, anyone, here or on another site, comes through my own site, with what I can do: follow or
 * unfollow, message, call, block.
 */
export function PersonView({ address }: { address: string }) {
  const signedIn = Boolean(session.token);
  const encoded = encodeURIComponent(address);
  const local = localName(address);
  const person = useLoad<Person>(
    async () => {
      if (signedIn) return api<Person>('GET', `/api/people/${encoded}`);
      const p = await api<Profile>('GET', `/api/users/${local}`);
      return { profile: p, local: true, me: false, following: false, followsMe: false, blocked: false, muted: false, ...(p.pinnedPost ? { pinnedPost: p.pinnedPost } : {}) };
    },
    [address, signedIn],
  );
  const posts = useLoad(() => api<Page<Post>>('GET', signedIn ? `/api/people/${encoded}/posts?limit=20` : `/api/users/${local}/posts?limit=20`), [address, signedIn]);
  const pinnedId = person.data?.pinnedPost;
  const pinned = useLoad(
    async () => (pinnedId ? api<PostDetail>('GET', signedIn ? `/api/people/${encoded}/posts/${pinnedId}` : `/api/users/${local}/posts/${pinnedId}`).catch(() => undefined) : undefined),
    [pinnedId, address, signedIn],
  );
  const [older, setOlder] = useState<Post[]>([]);
  const [next, setNext] = useState<string | null | undefined>();
  const [status, setStatus] = useState<Status>({});
  useTitle(person.data && `${person.data.profile.displayName} (${person.data.profile.address})`);
  const cursor = next === undefined ? posts.data?.next : next;
  const loadOlder = () =>
    attempt(setStatus, async () => {
      const page = await api<Page<Post>>('GET', `${signedIn ? `/api/people/${encoded}` : `/api/users/${local}`}/posts?limit=20&before=${encodeURIComponent(cursor!)}`);
      setOlder((o) => [...o, ...page.items]);
      setNext(page.next);
    }, '');
  const change = useCallback(
    (old: Post, updated: Post | null) => {
      const swap = (list: Post[]) => list.flatMap((p) => (p.id !== old.id ? [p] : updated ? [updated] : []));
      if (posts.data) posts.set({ ...posts.data, items: swap(posts.data.items) });
      setOlder(swap);
    },
    [posts],
  );
  if (person.error) return <main><ErrorBox error={person.error} /></main>;
  if (!person.data) return <main><Loading what="profile" /></main>;
  const p = person.data;
  const who = { address: p.profile.address, displayName: p.profile.displayName, avatarUrl: p.profile.avatarUrl };
  const follow = () =>
    attempt(setStatus, async () => {
      if (p.following) await api('DELETE', `/api/following/${encoded}`);
      else await api('POST', '/api/following', { address });
      person.set({ ...p, following: !p.following });
    }, p.following ? `You no longer follow ${p.profile.displayName}.` : `You now follow ${p.profile.displayName}.`);
  const mute = () =>
    attempt(setStatus, async () => {
      if (p.muted) await api('DELETE', `/api/mutes/${encoded}`);
      else await api('POST', '/api/mutes', { address });
      person.set({ ...p, muted: !p.muted });
    }, p.muted ? `${p.profile.displayName} is no longer muted.` : `Muted: you will not see ${p.profile.displayName}'s posts or notifications. They are not told.`);
  const setPinned = (id: string | undefined) => person.set({ ...p, ...(id ? { pinnedPost: id } : { pinnedPost: undefined }) });
  const block = () => {
    if (!p.blocked && !window.confirm(`Block ${p.profile.displayName}? Nothing they send will reach you, and neither of you will follow the other. They are not told.`)) return;
    void attempt(setStatus, async () => {
      if (p.blocked) await api('DELETE', `/api/blocks/${encoded}`);
      else await api('POST', '/api/blocks', { address });
      person.set({ ...p, blocked: !p.blocked, following: false, followsMe: false });
    }, p.blocked ? `Unblocked. Follows are not restored: follow ${p.profile.displayName} again if you want to.` : `${p.profile.displayName} is blocked.`);
  };
  return (
    <main className="public">
      <ProfileHeader profile={p.profile}>
        {p.followsMe && <p className="badge">Follows you</p>}
        {p.relayedVia && (
          <p className="hint">
            Your site reaches {p.profile.displayName} through the relay of {p.relayedVia.relay}: their site cannot be reached directly now.
          </p>
        )}
        {signedIn && !p.me && (
          <div className="row actions" aria-label={`Actions for ${p.profile.displayName}`}>
            {!p.blocked && <button type="button" className={p.following ? 'secondary' : ''} onClick={() => void follow()}>{p.following ? 'Unfollow' : 'Follow'}</button>}
            {!p.blocked && <button type="button" className="secondary" onClick={() => navigate(`/messages?with=${encoded}`)}>Message</button>}
            {!p.blocked && <button type="button" className="secondary" onClick={() => startCall(address, false).catch((error: unknown) => setStatus({ error }))}>Call</button>}
            {!p.blocked && <button type="button" className="secondary" onClick={() => void mute()}>{p.muted ? 'Unmute' : 'Mute'}</button>}
            <button type="button" className="secondary" onClick={block}>{p.blocked ? 'Unblock' : 'Block'}</button>
          </div>
        )}
        {status.message && <p role="status">{status.message}</p>}
        <ErrorBox error={status.error} />
      </ProfileHeader>
      <section aria-label="Posts">
        <h2 className="visually-hidden">Posts</h2>
        <ErrorBox error={posts.error} />
        {!posts.data && !posts.error && <Loading what="posts" />}
        {posts.data?.items.length === 0 && <p className="empty">No posts yet.</p>}
        {pinned.data && <PostCard key={`pinned-${pinned.data.id}`} post={{ ...pinned.data, authorProfile: who }} pinned onPin={p.me ? () => setPinned(undefined) : undefined} onChange={() => person.reload()} />}
        {[...(posts.data?.items ?? []), ...older]
          .filter((post) => post.id !== pinned.data?.id)
          .map((post) => (
            <PostCard key={post.id} post={{ ...post, authorProfile: who }} onChange={(u) => change(post, u)} onPin={p.me ? () => setPinned(post.id) : undefined} />
          ))}
        {cursor && <button type="button" className="secondary" onClick={() => void loadOlder()}>Older posts</button>}
      </section>
    </main>
  );
}
