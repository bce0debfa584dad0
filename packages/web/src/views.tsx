import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { parseAddress, formatAddress } from '@hearth/protocol/address';
import { api, BACKEND, session, uploadImage, type Page, type Post, type PostDetail, type Profile } from './api';
import { ErrorBox, Link, Loading, safeImageUrl, Text, Time } from './components';
import { useLiveEvents, type LiveEvent } from './live';
import { navigate } from './router';
import { preferences } from './preferences';

type Status = { error?: unknown; message?: string };

/** Runs an action for a form or button: on success shows `message`, on failure the site's error. */
async function attempt(setStatus: (status: Status) => void, action: () => Promise<unknown>, message: string | (() => string)): Promise<void> {
  try {
    await action();
    setStatus({ message: typeof message === 'string' ? message : message() });
  } catch (error) {
    setStatus({ error });
  }
}

function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(undefined);
    load().then(
      (value) => live && setData(value),
      (err: unknown) => live && setError(err),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}

function ProfileHeader({ profile }: { profile: Profile }) {
  const avatar = safeImageUrl(profile.avatarUrl);
  return (
    <header className="profile">
      {avatar && <img className="avatar" src={avatar} alt="" width={64} height={64} />}
      <div>
        <h1>{profile.displayName}</h1>
        <p className="address">{profile.address}</p>
        {profile.bio && <p className="bio">{profile.bio}</p>}
      </div>
    </header>
  );
}

function PostCard({ post, linkTo, actions }: { post: Post; linkTo?: string; actions?: boolean }) {
  return (
    <article className="post">
      <p className="post-author">{post.author}</p>
      <div className="post-text">
        <Text text={post.text} />
      </div>
      {post.attachments?.map((a) => {
        const src = safeImageUrl(a.url);
        return src ? <img key={a.url} className="attachment" src={src} alt={a.alt} width={a.width} height={a.height} loading="lazy" /> : null;
      })}
      <footer>
        {linkTo ? <Link to={linkTo}><Time iso={post.createdAt} /></Link> : <Time iso={post.createdAt} />}
        {post.likeCount !== undefined && <> · {plural(post.likeCount, 'like')} · {plural(post.commentCount ?? 0, 'comment')}</>}
      </footer>
      {actions && <PostActions post={post} />}
    </article>
  );
}

/** Like and comment on someone's post: my site signs and sends the envelope to theirs. */
function PostActions({ post }: { post: Post }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const [state, setState] = useState<{ error?: unknown; message?: string }>({});
  const ref = { author: post.author, id: post.id };
  const like = () => attempt(setState, () => api('POST', '/api/likes', { post: ref }), 'Liked.');
  const comment = async (event: FormEvent) => {
    event.preventDefault();
    await attempt(setState, async () => {
      await api('POST', '/api/comments', { post: ref, text });
      setText('');
      setOpen(false);
    }, 'Comment sent.');
  };
  return (
    <div className="actions">
      <button type="button" className="small" onClick={like}>Like</button>{' '}
      <button type="button" className="small" aria-expanded={open} onClick={() => setOpen(!open)}>Comment</button>
      {open && (
        <form onSubmit={comment} className="stack">
          <label htmlFor={`comment-${post.id}`}>Comment on {post.author}'s post</label>
          <textarea id={`comment-${post.id}`} value={text} onChange={(e) => setText(e.target.value)} maxLength={2000} rows={2} required />
          <button type="submit">Send comment</button>
        </form>
      )}
      {state.message && <span role="status"> {state.message}</span>}
      <ErrorBox error={state.error} />
    </div>
  );
}

export function ProfileView({ username }: { username: string }) {
  const profile = useLoad(() => api<Profile>('GET', `/api/users/${username}`), [username]);
  const posts = useLoad(() => api<Page<Post>>('GET', `/api/users/${username}/posts?limit=50`), [username]);
  useEffect(() => {
    if (profile.data) document.title = `${profile.data.displayName} (${profile.data.address})`;
  }, [profile.data]);
  if (profile.error) return <main><ErrorBox error={profile.error} /></main>;
  if (!profile.data) return <main><Loading what="profile" /></main>;
  return (
    <main className="public">
      <ProfileHeader profile={profile.data} />
      <section aria-label="Posts">
        <ErrorBox error={posts.error} />
        {!posts.data && !posts.error && <Loading what="posts" />}
        {posts.data?.items.length === 0 && <p className="empty">No posts yet.</p>}
        {posts.data?.items.map((post) => <PostCard key={post.id} post={post} linkTo={`/@${username}/${post.id}`} />)}
      </section>
    </main>
  );
}

export function PostView({ username, postId }: { username: string; postId: string }) {
  const profile = useLoad(() => api<Profile>('GET', `/api/users/${username}`), [username]);
  const post = useLoad(() => api<PostDetail>('GET', `/api/users/${username}/posts/${postId}`), [username, postId]);
  const [comment, setComment] = useState('');
  const [state, setState] = useState<{ error?: unknown; sent?: boolean }>({});
  const signedIn = Boolean(session.token);
  const isOwner = session.username === username;
  const [modError, setModError] = useState<unknown>();
  const remove = async (commentId: string) => {
    try {
      await api('DELETE', `/api/posts/${postId}/comments/${commentId}`);
      post.reload();
    } catch (error) {
      setModError(error);
    }
  };
  const block = async (address: string) => {
    if (!window.confirm(`Block ${address}? Nothing they send will reach you, and neither of you will follow the other. They are not told.`)) return;
    try {
      await api('POST', '/api/blocks', { address });
    } catch (error) {
      setModError(error);
    }
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!profile.data) return;
    try {
      await api('POST', '/api/comments', { post: { author: profile.data.address, id: postId }, text: comment });
      setComment('');
      setState({ sent: true });
      setTimeout(post.reload, 300);
    } catch (error) {
      setState({ error });
    }
  };
  if (post.error) return <main><ErrorBox error={post.error} /></main>;
  if (!post.data || !profile.data) return <main><Loading what="post" /></main>;
  return (
    <main className="public">
      <ProfileHeader profile={profile.data} />
      <PostCard post={post.data} />
      <section aria-label="Comments">
        <h2>Comments</h2>
        {post.data.comments.length === 0 && <p className="empty">No comments yet.</p>}
        <ul className="comments">
          {post.data.comments.map((c) => (
            <li key={c.id} className="comment">
              <p className="comment-author">
                {c.author} · <Time iso={c.createdAt} />
              </p>
              <Text text={c.text} />
              {isOwner && (
                <p className="moderation">
                  <button type="button" className="small" onClick={() => void remove(c.id)} aria-label={`Delete comment by ${c.author}`}>Delete</button>{' '}
                  <button type="button" className="small secondary" onClick={() => void block(c.author)} aria-label={`Block ${c.author}`}>Block</button>
                </p>
              )}
            </li>
          ))}
        </ul>
        <ErrorBox error={modError} />
        {signedIn && (
          <form onSubmit={submit} className="stack">
            <label htmlFor="comment">Your comment</label>
            <textarea id="comment" value={comment} onChange={(e) => setComment(e.target.value)} maxLength={2000} required rows={3} />
            <button type="submit">Comment</button>
            {state.sent && <p role="status">Sent to {profile.data.displayName}'s site.</p>}
            <ErrorBox error={state.error} />
          </form>
        )}
      </section>
      <p>
        <Link to={`/@${username}`}>More from {profile.data.displayName}</Link>
      </p>
    </main>
  );
}

/**
 * After a login or the first-run setup: keep the session, make this browser one of my devices
 * (the password is at hand only now, to restore the identity key), and go home.
 */
async function beginSession(res: { token: string; username: string }, password: string, onLogin: () => void): Promise<void> {
  session.save(res.token, res.username);
  await import('./device').then((d) => d.ensureDevice(password));
  onLogin();
  navigate('/home');
}

export function LoginView({ onLogin }: { onLogin: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await beginSession(await api('POST', '/api/auth/login', { username: username.trim().toLowerCase(), password }), password, onLogin);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="narrow">
      <h1>Log in</h1>
      <form onSubmit={submit} className="stack">
        <label htmlFor="username">Username</label>
        <input id="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        <label htmlFor="password">Password</label>
        <input id="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        <button type="submit" disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

/** `bob@example.com`, `@bob@example.com`, or a pasted profile link `https://example.com/@bob`. */
export function addressFromInput(input: string): string {
  const text = input.trim();
  if (/^https?:\/\//i.test(text)) {
    const url = new URL(text);
    const match = /^\/@([a-z0-9_]{1,32})\/?$/i.exec(url.pathname);
    if (!match) throw new Error('That link is not a profile link (it should end in /@name).');
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return formatAddress({ username: match[1]!.toLowerCase(), host: url.hostname.toLowerCase(), port });
  }
  return formatAddress(parseAddress(text));
}

export function HomeView() {
  const me = session.username;
  const feed = useLoad(() => api<Page<Post>>('GET', '/api/feed?limit=20'), []);
  const [older, setOlder] = useState<{ items: Post[]; next: string | null }>({ items: [], next: null });
  useEffect(() => setOlder({ items: [], next: null }), [feed.data]);
  const nextCursor = older.items.length ? older.next : (feed.data?.next ?? null);
  const loadOlder = async () => {
    if (!nextCursor) return;
    try {
      const page = await api<Page<Post>>('GET', `/api/feed?limit=20&before=${encodeURIComponent(nextCursor)}`);
      setOlder((o) => ({ items: [...o.items, ...page.items], next: page.next }));
    } catch (error) {
      setStatus({ error });
    }
  };
  const following = useLoad(() => api<{ items: Array<{ address: string }> }>('GET', '/api/following'), []);
  const [text, setText] = useState('');
  const [images, setImages] = useState<Array<{ id: string; url: string; alt: string }>>([]);
  const [uploading, setUploading] = useState(false);
  const [follow, setFollow] = useState('');
  const [status, setStatus] = useState<{ error?: unknown; message?: string }>({});
  const notes = useLoad(() => api<{ items: Notification[] }>('GET', '/api/notifications?limit=200'), []);
  const followers = useLoad(() => api<{ items: Array<{ address: string }> }>('GET', '/api/followers'), []);
  const onLive = useCallback(
    (event: LiveEvent) => {
      if (event.type === 'feed') feed.reload();
      if (event.type === 'notification') {
        notes.reload();
        followers.reload();
      }
    },
    [feed.reload, notes.reload, followers.reload],
  );
  const unfollow = async (address: string) => {
    try {
      await api('DELETE', `/api/following/${encodeURIComponent(address)}`);
      following.reload();
      feed.reload();
    } catch (error) {
      setStatus({ error });
    }
  };
  useLiveEvents(onLive);
  useEffect(() => {
    document.title = 'Home · Hearth';
    if (!session.token) navigate('/login');
  }, []);
  if (!session.token) return null;
  const addImages = async (files: FileList | null) => {
    if (!files?.length) return;
    setUploading(true);
    setStatus({});
    try {
      for (const file of Array.from(files).slice(0, 4 - images.length)) {
        const uploaded = await uploadImage(file);
        setImages((list) => [...list, { id: uploaded.id, url: uploaded.url, alt: '' }]);
      }
    } catch (error) {
      setStatus({ error });
    } finally {
      setUploading(false);
    }
  };
  const post = async (event: FormEvent) => {
    event.preventDefault();
    await attempt(setStatus, async () => {
      await api('POST', '/api/posts', { text, ...(images.length ? { attachments: images.map(({ id, alt }) => ({ id, alt })) } : {}) });
      setText('');
      setImages([]);
    }, 'Posted.');
  };
  const doFollow = async (event: FormEvent) => {
    event.preventDefault();
    let address = '';
    await attempt(setStatus, async () => {
      address = addressFromInput(follow);
      await api('POST', '/api/following', { address });
      setFollow('');
      following.reload();
      setTimeout(feed.reload, 500);
    }, () => `You now follow ${address}.`);
  };
  return (
    <main className="home">
      <h1>Home</h1>
      <form onSubmit={post} className="stack" aria-label="New post">
        <label htmlFor="compose">What's on your mind, {me}?</label>
        <textarea id="compose" value={text} onChange={(e) => setText(e.target.value)} maxLength={5000} rows={4} required aria-describedby="compose-help" />
        <p id="compose-help" className="hint">Markdown works: **bold**, _italic_, [links](https://example.com).</p>
        <label htmlFor="images">Add images (JPEG, PNG, GIF or WebP, up to 4)</label>
        <input id="images" type="file" accept="image/jpeg,image/png,image/gif,image/webp" multiple disabled={uploading || images.length >= 4} onChange={(e) => { void addImages(e.target.files); e.target.value = ''; }} />
        {uploading && <p role="status">Uploading…</p>}
        {images.map((image, i) => (
          <div key={image.id} className="upload">
            <img src={image.url} alt="" width={80} height={80} />
            <label htmlFor={`alt-${image.id}`}>Describe image {i + 1} for people who cannot see it</label>
            <input id={`alt-${image.id}`} value={image.alt} maxLength={1500} onChange={(e) => setImages((list) => list.map((x) => (x.id === image.id ? { ...x, alt: e.target.value } : x)))} />
            <button type="button" className="small secondary" onClick={() => setImages((list) => list.filter((x) => x.id !== image.id))}>Remove</button>
          </div>
        ))}
        <button type="submit" disabled={uploading}>Post</button>
      </form>
      <form onSubmit={doFollow} className="row" aria-label="Follow someone">
        <label htmlFor="follow" className="visually-hidden">Address or profile link</label>
        <input id="follow" placeholder="name@example.com or a profile link" value={follow} onChange={(e) => setFollow(e.target.value)} required />
        <button type="submit">Follow</button>
      </form>
      {status.message && <p role="status">{status.message}</p>}
      <ErrorBox error={status.error} />
      <section aria-label="Feed">
        <h2>Feed</h2>
        <ErrorBox error={feed.error} />
        {!feed.data && !feed.error && <Loading what="your feed" />}
        {feed.data?.items.length === 0 && <p className="empty">Nothing yet: follow someone to fill your feed.</p>}
        {[...(feed.data?.items ?? []), ...older.items].map((p) => <PostCard key={`${p.author}/${p.id}`} post={p} actions />)}
        {nextCursor && <button type="button" className="secondary" onClick={() => void loadOlder()}>Load older posts</button>}
      </section>
      <section aria-label="Notifications">
        <h2>Notifications</h2>
        {notes.data?.items.length === 0 && <p className="empty">Nothing new.</p>}
        <ul className="notifications">
          {[...(notes.data?.items ?? [])].reverse().slice(0, 30).map((n) => (
            <li key={n.seq}>
              {describeNotification(n)} · <Time iso={n.createdAt} />
            </li>
          ))}
        </ul>
      </section>
      <AddressList label="Following" items={following.data?.items} empty="You follow no one yet." action={{ name: 'Unfollow', run: unfollow }} />
      <AddressList label="Followers" items={followers.data?.items} empty={`No followers yet: share your address, ${me}@${backendHost()}.`} />
    </main>
  );
}

export function SiteView() {
  const site = useLoad(() => api<{ users?: string[] }>('GET', '/api/site'), []);
  if (site.error) return <main><ErrorBox error={site.error} /></main>;
  if (!site.data) return <main><Loading what="site" /></main>;
  const users = site.data.users ?? [];
  if (users.length === 1) return <ProfileView username={users[0]!} />;
  if (users.length === 0) {
    return (
      <main className="narrow">
        <h1>A new Hearth site</h1>
        <p>This site is not set up yet. Its owner finishes setup with the link that <code>hearth start</code> printed.</p>
      </main>
    );
  }
  return (
    <main className="public">
      <h1>People here</h1>
      <ul>{users.map((u) => <li key={u}><Link to={`/@${u}`}>{u}</Link></li>)}</ul>
    </main>
  );
}

/** First run: the owner opens the link `hearth start` printed, chooses a name and password, and is home. */
export function SetupView({ onLogin }: { onLogin: () => void }) {
  const code = new URLSearchParams(window.location.search).get('code') ?? '';
  const needed = useLoad(() => api<{ needed: boolean }>('GET', '/api/setup'), []);
  const [displayName, setDisplayName] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Set up your site · Hearth';
  }, []);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await beginSession(await api('POST', '/api/setup', { code, username, password, displayName }), password, onLogin);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (needed.error) return <main className="narrow"><ErrorBox error={needed.error} /></main>;
  if (!needed.data) return <main className="narrow"><Loading what="setup" /></main>;
  if (!needed.data.needed) {
    return (
      <main className="narrow">
        <h1>This site is set up</h1>
        <p><Link to="/login">Log in</Link> to continue.</p>
      </main>
    );
  }
  if (!code) {
    return (
      <main className="narrow">
        <h1>Set up your site</h1>
        <p>Open the setup link that <code>hearth start</code> printed: it carries a one-time code that proves the site is yours.</p>
      </main>
    );
  }
  return (
    <main className="narrow">
      <h1>Welcome to your new site</h1>
      <p>Choose how people will see you. You can change all of it later.</p>
      <form onSubmit={submit} className="stack">
        <label htmlFor="displayName">Your name</label>
        <input id="displayName" autoComplete="name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} required maxLength={100} />
        <label htmlFor="newUsername">Username (your address will be <em>{username || 'name'}@{backendHost()}</em>)</label>
        <input
          id="newUsername"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value.toLowerCase())}
          required
          pattern="[a-z0-9_]{1,32}"
          title="1 to 32 of a-z, 0-9 and _"
        />
        <label htmlFor="newPassword">Password (at least 8 characters)</label>
        <input id="newPassword" type="password" autoComplete="new-password" minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} required />
        <button type="submit" disabled={busy}>{busy ? 'Setting up…' : 'Create my site'}</button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

interface Notification {
  seq: number;
  kind: string;
  data: { from?: string; post?: string; comment?: string; to?: string; error?: string; message?: string };
  createdAt: string;
}

function describeNotification(n: Notification): string {
  switch (n.kind) {
    case 'follower':
      return `${n.data.from} follows you`;
    case 'comment':
      return `${n.data.from} commented on your post`;
    case 'like':
      return `${n.data.from} liked your post`;
    case 'message':
      return `New message from ${n.data.from}`;
    case 'delivery_failed':
      return `Could not deliver to ${n.data.to}: ${n.data.error}`;
    case 'clock_skew':
      return `Clocks disagree: ${n.data.message}. Messages to ${n.data.to} wait until they agree; nothing is lost.`;
    default:
      return n.kind;
  }
}

/** My profile and the addresses I block. */
export function SettingsView() {
  const me = useLoad(() => api<Profile>('GET', '/api/me'), []);
  const blocks = useLoad(() => api<{ items: Array<{ address: string }> }>('GET', '/api/blocks'), []);
  const devices = useLoad(() => api<{ items: Array<{ id: string; name: string; createdAt: string }> }>('GET', '/api/devices'), []);
  const [thisDevice, setThisDevice] = useState<string>();
  useEffect(() => {
    void import('./device').then((d) => d.myDevice()).then((m) => setThisDevice(m?.device.id));
  }, []);
  const removeDevice = async (id: string) => {
    if (!window.confirm('Remove this device? It will no longer receive new messages.')) return;
    try {
      await api('DELETE', `/api/devices/${encodeURIComponent(id)}`);
      devices.reload();
    } catch (error) {
      setState({ error });
    }
  };
  const [form, setForm] = useState<{ displayName: string; bio: string; avatarUrl: string } | undefined>();
  const [state, setState] = useState<{ error?: unknown; message?: string }>({});
  // Said beside the list where the button was, not at the top of the page.
  const [unblocked, setUnblocked] = useState<string>();
  useEffect(() => {
    document.title = 'Settings · Hearth';
    if (!session.token) navigate('/login');
  }, []);
  useEffect(() => {
    if (me.data && !form) setForm({ displayName: me.data.displayName, bio: me.data.bio, avatarUrl: me.data.avatarUrl });
  }, [me.data, form]);
  if (!session.token) return null;
  const save = async (event: FormEvent) => {
    event.preventDefault();
    await attempt(setState, () => api('PATCH', '/api/me/profile', form), 'Saved.');
  };
  const unblock = async (address: string) => {
    try {
      await api('DELETE', `/api/blocks/${encodeURIComponent(address)}`);
      blocks.reload();
      setUnblocked(`Unblocked ${address}. Follows are not restored: follow them again if you want to.`);
    } catch (error) {
      setState({ error });
    }
  };
  return (
    <main>
      <h1>Settings</h1>
      <ErrorBox error={me.error} />
      {!form && !me.error && <Loading what="your profile" />}
      {form && (
        <form onSubmit={save} className="stack" aria-label="Profile">
          <h2>Profile</h2>
          <label htmlFor="set-name">Display name</label>
          <input id="set-name" value={form.displayName} maxLength={100} required onChange={(e) => setForm({ ...form, displayName: e.target.value })} />
          <label htmlFor="set-bio">Bio</label>
          <textarea id="set-bio" value={form.bio} maxLength={1000} rows={3} onChange={(e) => setForm({ ...form, bio: e.target.value })} />
          <label htmlFor="set-avatar-file">Avatar picture</label>
          {safeImageUrl(form.avatarUrl) && <img className="avatar" src={safeImageUrl(form.avatarUrl)} alt="Your current avatar" width={64} height={64} />}
          <input
            id="set-avatar-file"
            type="file"
            accept="image/jpeg,image/png,image/gif,image/webp"
            onChange={async (e) => {
              const file = e.target.files?.[0];
              if (!file) return;
              try {
                const uploaded = await uploadImage(file);
                setForm({ ...form, avatarUrl: uploaded.url });
                setState({ message: 'Picture uploaded: save the profile to use it.' });
              } catch (error) {
                setState({ error });
              }
            }}
          />
          <label htmlFor="set-avatar">or an image URL (https)</label>
          <input id="set-avatar" type="url" value={form.avatarUrl} onChange={(e) => setForm({ ...form, avatarUrl: e.target.value })} />
          <button type="submit">Save profile</button>
          {state.message && <p role="status">{state.message}</p>}
          <ErrorBox error={state.error} />
        </form>
      )}
      <section aria-label="Devices">
        <h2>Devices</h2>
        <p className="hint">Each device has its own keys for direct messages. Remove one you lost: it gets no new messages.</p>
        <ErrorBox error={devices.error} />
        <ul>
          {devices.data?.items.map((d) => (
            <li key={d.id}>
              {d.name}{d.id === thisDevice && <strong> (this browser)</strong>} · added <Time iso={d.createdAt} />{' '}
              <button type="button" className="small secondary" onClick={() => void removeDevice(d.id)} aria-label={`Remove device ${d.name}`}>Remove</button>
            </li>
          ))}
        </ul>
      </section>
      <CallsSection />
      <VaultSection onChange={devices.reload} />
      <AddressList label="Blocked" title="Blocked addresses" items={blocks.data?.items} empty="You block no one." action={{ name: 'Unblock', run: unblock }} note={unblocked} />
    </main>
  );
}

/** Call settings: always relay (hides my IP address), and a network test done with ICE. */
function CallsSection() {
  const [alwaysRelay, setAlwaysRelay] = useState(() => preferences.alwaysRelay);
  const [result, setResult] = useState<string[]>();
  const [status, setStatus] = useState<Status>({});
  const [testing, setTesting] = useState(false);
  const allowed = useLoad(() => api<{ items: Array<{ address: string }> }>('GET', '/api/calls/allowed'), []);
  const [allowInput, setAllowInput] = useState('');
  const allow = async (event: FormEvent) => {
    event.preventDefault();
    await attempt(setStatus, async () => {
      await api('POST', '/api/calls/allowed', { address: addressFromInput(allowInput) });
      setAllowInput('');
      allowed.reload();
    }, 'Added.');
  };
  const disallow = async (address: string) => {
    await attempt(setStatus, () => api('DELETE', `/api/calls/allowed/${encodeURIComponent(address)}`), 'Removed.');
    allowed.reload();
  };
  const toggle = (on: boolean) => {
    preferences.alwaysRelay = on;
    setAlwaysRelay(on);
  };
  const test = async () => {
    setTesting(true);
    setResult(undefined);
    await attempt(setStatus, async () => {
      const { networkTest } = await import('./call-session');
      const r = await networkTest();
      setResult([
        r.publicAddress
          ? 'Direct calls: likely. Your site saw this device at a public address, so other devices can often reach it directly.'
          : r.host
            ? 'Direct calls: only with devices on the same network as this one; elsewhere calls go through a relay.'
            : 'Direct calls: no local address was found; calls need a relay.',
        !r.relayConfigured
          ? "Relay: your site has none, so calls where no direct path exists will fail (the operator can start it with 'hearth start --turn')."
          : r.relay
            ? 'Relay: available. Your site relays calls when no direct path works.'
            : 'Relay: your site has one, but this device could not reach it (a firewall may block its port).',
      ]);
    }, 'Network test finished.');
    setTesting(false);
  };
  return (
    <section aria-label="Calls">
      <h2>Calls</h2>
      <label className="check">
        <input type="checkbox" checked={alwaysRelay} onChange={(e) => toggle(e.target.checked)} /> Always relay my calls through a site (the other side then never sees my IP address; calls may be a little slower)
      </label>
      <div className="row">
        <button type="button" className="secondary" disabled={testing} onClick={() => void test()}>{testing ? 'Testing…' : 'Network test'}</button>
      </div>
      {result && (
        <ul aria-label="Network test result">
          {result.map((line) => <li key={line}>{line}</li>)}
        </ul>
      )}
      <p className="hint">Who may call you: people you follow (if they follow you too), and the people you add here.</p>
      <form onSubmit={allow} className="row" aria-label="Allow someone to call you">
        <label htmlFor="call-allow" className="visually-hidden">Address of someone who may call you</label>
        <input id="call-allow" placeholder="name@example.com" value={allowInput} onChange={(e) => setAllowInput(e.target.value)} required />
        <button type="submit" className="secondary">Allow calls</button>
      </form>
      <AddressList label="May call me" title="People who may call you without a follow" items={allowed.data?.items} empty="Nobody besides the people you follow." action={{ name: 'Remove', run: disallow }} />
      {status.message && <p role="status">{status.message}</p>}
      <ErrorBox error={status.error} />
    </section>
  );
}

interface VaultStatus {
  paired: boolean;
  deviceId?: string;
  pairedAt?: string;
  online?: boolean;
  lastSeenAt?: string | null;
  waiting?: number;
}

/** The home vault: paired or not, online or not, what waits for it; a one-time code to pair one. */
function VaultSection({ onChange }: { onChange: () => void }) {
  const vault = useLoad(() => api<VaultStatus>('GET', '/api/vault'), []);
  const [code, setCode] = useState<{ code: string; expiresAt: string }>();
  const [status, setStatus] = useState<Status>({});
  useEffect(() => {
    // Online state and the queue change on their own: look again every 15 s while the page is open.
    const timer = setInterval(vault.reload, 15_000);
    return () => clearInterval(timer);
  }, [vault.reload]);
  const newCode = () => attempt(setStatus, async () => setCode(await api('POST', '/api/vault/pairing-code')), 'Code ready: it works once, for 15 minutes.');
  const unpair = async () => {
    if (!window.confirm('Unpair your home vault? It stops receiving messages; what it already holds stays on it.')) return;
    await attempt(setStatus, () => api('DELETE', '/api/vault'), 'Vault unpaired.');
    vault.reload();
    onChange();
  };
  const v = vault.data;
  return (
    <section aria-label="Home vault">
      <h2>Home vault</h2>
      <p className="hint">A small computer at home that keeps your message history, encrypted, and dials out to this site: your site only ever holds what it cannot read.</p>
      <ErrorBox error={vault.error} />
      {!v && !vault.error && <Loading what="your vault" />}
      {v && !v.paired && <p>No vault is paired.</p>}
      {v?.paired && (
        <dl className="facts">
          <dt>Status</dt>
          <dd>{v.online ? <strong className="ok">Online</strong> : <strong className="warn">Offline</strong>}</dd>
          <dt>Last seen</dt>
          <dd>{v.online ? 'now' : v.lastSeenAt ? <Time iso={v.lastSeenAt} /> : 'never connected'}</dd>
          <dt>Messages waiting for it</dt>
          <dd>{v.waiting}</dd>
          <dt>Paired</dt>
          <dd>{v.pairedAt && <Time iso={v.pairedAt} />}</dd>
        </dl>
      )}
      <div className="row">
        <button type="button" onClick={() => void newCode()}>{v?.paired ? 'Pair a new vault' : 'Get a pairing code'}</button>
        {v?.paired && <button type="button" className="secondary" onClick={() => void unpair()}>Unpair</button>}
      </div>
      {code && (
        <div className="pairing">
          <p>Pairing code: <code className="code">{code.code}</code> (until <Time iso={code.expiresAt} />)</p>
          <p className="hint">On the vault, run:</p>
          <pre>hearth vault pair --data ./vault --site {BACKEND || window.location.origin} --code {code.code}</pre>
        </div>
      )}
      {status.message && <p role="status">{status.message}</p>}
      <ErrorBox error={status.error} />
    </section>
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The host (and port) of my site, as it appears in addresses. */
function backendHost(): string {
  return BACKEND ? new URL(BACKEND).host : window.location.host;
}

/** A titled list of addresses, each with an optional action (unfollow, unblock). */
function AddressList(props: { label: string; title?: string; items?: Array<{ address: string }>; empty: string; action?: { name: string; run: (address: string) => Promise<void> }; note?: string }) {
  const { label, title, items, empty, action, note } = props;
  return (
    <section aria-label={label}>
      <h2>{title ?? label}</h2>
      {note && <p role="status">{note}</p>}
      {items?.length === 0 && <p className="empty">{empty}</p>}
      <ul>
        {items?.map(({ address }) => (
          <li key={address}>
            {address}{' '}
            {action && (
              <button type="button" className="small secondary" onClick={() => void action.run(address)} aria-label={`${action.name} ${address}`}>
                {action.name}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
