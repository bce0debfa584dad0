import { useState, type FormEvent } from 'react';
import { LIMITS } from '@hearth/protocol/limits';
import { api, session, type Post } from './api';
import { Avatar, ErrorBox, Link, localName, personPath, plural, postPath, safeImageUrl, Text, Time } from './components';
import { attempt, type Status } from './hooks';
import { CharCount } from './compose';
import { ImageViewer } from './image-viewer';
import { CommentIcon, HeartIcon, RepostIcon } from './icons';

/** Is this post mine (the logged-in user's, on this site)? */
export function isMine(post: { author: string }): boolean {
  return Boolean(session.username) && localName(post.author) === session.username;
}

/**
 * One post, as every list shows it: who wrote it (name and picture, linked to their page), when
 * (linked to the post's own page), the text and images, and what I can do with it: like or
 * unlike with its count, comment, and on my own posts edit and delete.
 */
export function PostCard({ post, onChange, full = false, pinned = false, onPin }: { post: Post; onChange?: (post: Post | null) => void; full?: boolean; pinned?: boolean; onPin?: (pinned: boolean) => void }) {
  const [editing, setEditing] = useState(false);
  const [status, setStatus] = useState<Status>({});
  const [viewing, setViewing] = useState<NonNullable<Post['attachments']>[number]>();
  const name = post.authorProfile?.displayName || post.author.split('@')[0]!;
  const link = postPath(post.author, post.id);
  const mine = isMine(post);
  const signedIn = Boolean(session.token);
  const ref = { author: post.author, id: post.id };
  const liked = post.likedByMe === true;
  const toggleLike = () =>
    attempt(setStatus, async () => {
      if (liked) await api('DELETE', `/api/likes?author=${encodeURIComponent(post.author)}&id=${encodeURIComponent(post.id)}`);
      else await api('POST', '/api/likes', { post: ref });
      onChange?.({ ...post, likedByMe: !liked, likeCount: Math.max(0, (post.likeCount ?? 0) + (liked ? -1 : 1)) });
    }, '');
  const reposted = post.repostedByMe === true;
  const toggleRepost = () =>
    attempt(setStatus, async () => {
      if (reposted) await api('DELETE', `/api/reposts?author=${encodeURIComponent(post.author)}&id=${encodeURIComponent(post.id)}`);
      else await api('POST', '/api/reposts', { post: ref });
      onChange?.({ ...post, repostedByMe: !reposted });
    }, reposted ? 'No longer shared.' : 'Shared with your followers.');
  const pin = () =>
    attempt(setStatus, async () => {
      if (pinned) await api('DELETE', '/api/me/pinned');
      else await api('PUT', '/api/me/pinned', { id: post.id });
      onPin?.(!pinned);
    }, pinned ? 'Unpinned.' : 'Pinned to the top of your profile.');
  const remove = () => {
    if (!window.confirm('Delete this post? It disappears here and from your followers\' feeds.')) return;
    void attempt(setStatus, async () => {
      await api('DELETE', `/api/posts/${encodeURIComponent(post.id)}`);
      onChange?.(null);
    }, 'Deleted.');
  };
  return (
    <article className="post" aria-label={`Post by ${name}`}>
      {pinned && <p className="post-context">Pinned</p>}
      {post.repostedBy && (
        <p className="post-context">
          <RepostIcon /> Shared by <Link to={personPath(post.repostedBy.address)}>{post.repostedBy.displayName || post.repostedBy.address.split('@')[0]}</Link>
        </p>
      )}
      <header className="post-head">
        <Link to={personPath(post.author)} className="person stacked">
          <Avatar name={name} url={post.authorProfile?.avatarUrl} size={40} />
          <span className="who">
            <span className="person-name">{name}</span> <span className="address">{post.author}</span>
          </span>
        </Link>
        <span className="post-time">
          {full ? <Time iso={post.createdAt} exact /> : <Link to={link}><Time iso={post.createdAt} /></Link>}
          {post.editedAt && <span className="edited" title={`Edited ${new Date(post.editedAt).toLocaleString()}`}> · edited</span>}
        </span>
      </header>
      {editing ? (
        <EditPost post={post} onDone={(updated) => { setEditing(false); if (updated) onChange?.(updated); }} />
      ) : post.contentWarning ? (
        // A content warning: the reader chooses to open it (a native disclosure, keyboard included).
        <details className="content-warning">
          <summary>
            <span className="cw-label">Content warning:</span> {post.contentWarning} <span className="hint">(show)</span>
          </summary>
          <div className="post-text">
            <Text text={post.text} />
          </div>
        </details>
      ) : (
        <div className="post-text">
          <Text text={post.text} />
        </div>
      )}
      {post.attachments?.map((a) => {
        const src = safeImageUrl(a.url);
        return src ? (
          // The button is named by the image's description, like the image itself; it opens it full size.
          <button key={a.url} type="button" className="attachment-link" onClick={() => setViewing(a)} title="View full size">
            <img className="attachment" src={src} alt={a.alt || 'An image without a description'} width={a.width} height={a.height} loading="lazy" />
          </button>
        ) : null;
      })}
      {viewing && <ImageViewer image={viewing} onClose={() => setViewing(undefined)} />}
      <footer className="post-actions">
        {signedIn ? (
          // The name says it ("Like, 3 likes"); the eye sees a heart and the count.
          <button type="button" className={`small ${liked ? 'liked' : 'secondary'}`} aria-pressed={liked} onClick={() => void toggleLike()}>
            <HeartIcon filled={liked} />
            <span className="visually-hidden">{liked ? 'Unlike' : 'Like'}, </span> {post.likeCount ?? 0}
            <span className="visually-hidden"> {(post.likeCount ?? 0) === 1 ? 'like' : 'likes'}</span>
          </button>
        ) : (
          post.likeCount !== undefined && <span>{plural(post.likeCount, 'like')}</span>
        )}
        {!full && (
          <Link to={link} className="small-link">
            <CommentIcon />
            <span className="visually-hidden">Comments: </span> {post.commentCount ?? 0}
          </Link>
        )}
        {signedIn && (
          <button type="button" className={`small ${reposted ? 'liked' : 'secondary'}`} aria-pressed={reposted} onClick={() => void toggleRepost()}>
            <RepostIcon />
            {reposted ? 'Shared' : 'Share'}
          </button>
        )}
        {mine && !editing && onPin && (
          <button type="button" className="small secondary" onClick={() => void pin()}>{pinned ? 'Unpin' : 'Pin'}</button>
        )}
        {mine && !editing && (
          <>
            <button type="button" className="small secondary" onClick={() => setEditing(true)}>Edit</button>
            <button type="button" className="small secondary" onClick={remove}>Delete</button>
          </>
        )}
        {status.message && <span role="status" className="hint">{status.message}</span>}
      </footer>
      <ErrorBox error={status.error} />
    </article>
  );
}

function EditPost({ post, onDone }: { post: Post; onDone: (post?: Post) => void }) {
  const [text, setText] = useState(post.text);
  const [warning, setWarning] = useState(post.contentWarning ?? '');
  const [status, setStatus] = useState<Status>({});
  const id = `edit-${post.id}`;
  const save = (event: FormEvent) => {
    event.preventDefault();
    void attempt(setStatus, async () => {
      const updated = await api<Post>('PATCH', `/api/posts/${encodeURIComponent(post.id)}`, { text, contentWarning: warning });
      // What the edit does not return (how I see the post) stays as it was.
      onDone({ ...post, ...updated, ...(warning ? {} : { contentWarning: undefined }) });
    }, '');
  };
  return (
    <form onSubmit={save} className="stack" aria-label="Edit post">
      <label htmlFor={id}>Edit your post</label>
      <textarea id={id} value={text} onChange={(e) => setText(e.target.value)} rows={4} required aria-describedby={`${id}-count`} />
      <CharCount id={`${id}-count`} length={text.length} limit={LIMITS.postChars} />
      <label htmlFor={`${id}-cw`}>Content warning (optional)</label>
      <input id={`${id}-cw`} value={warning} maxLength={LIMITS.contentWarningChars} onChange={(e) => setWarning(e.target.value)} />
      <div className="row">
        <button type="submit" disabled={text.length > LIMITS.postChars}>Save</button>
        <button type="button" className="secondary" onClick={() => onDone()}>Cancel</button>
      </div>
      <ErrorBox error={status.error} />
    </form>
  );
}
