import { useState, type FormEvent } from 'react';
import { LIMITS } from '@hearth/protocol/limits';
import { api, session, type Post } from './api';
import { Avatar, ErrorBox, Link, localName, personPath, plural, postPath, safeImageUrl, Text, Time } from './components';
import { attempt, type Status } from './hooks';
import { CharCount } from './compose';
import { CommentIcon, HeartIcon } from './icons';

/** Is this post mine (the logged-in user's, on this site)? */
export function isMine(post: { author: string }): boolean {
  return Boolean(session.username) && localName(post.author) === session.username;
}

/**
 * One post, as every list shows it: who wrote it (name and picture, linked to their page), when
 * (linked to the post's own page), the text and images, and what I can do with it: like or
 * unlike with its count, comment, and on my own posts edit and delete.
 */
export function PostCard({ post, onChange, full = false }: { post: Post; onChange?: (post: Post | null) => void; full?: boolean }) {
  const [editing, setEditing] = useState(false);
  const [status, setStatus] = useState<Status>({});
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
  const remove = () => {
    if (!window.confirm('Delete this post? It disappears here and from your followers\' feeds.')) return;
    void attempt(setStatus, async () => {
      await api('DELETE', `/api/posts/${encodeURIComponent(post.id)}`);
      onChange?.(null);
    }, 'Deleted.');
  };
  return (
    <article className="post" aria-label={`Post by ${name}`}>
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
      ) : (
        <div className="post-text">
          <Text text={post.text} />
        </div>
      )}
      {post.attachments?.map((a) => {
        const src = safeImageUrl(a.url);
        return src ? (
          <a key={a.url} href={src} className="attachment-link" target="_blank" rel="noopener noreferrer">
            <img className="attachment" src={src} alt={a.alt} width={a.width} height={a.height} loading="lazy" />
          </a>
        ) : null;
      })}
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
  const [status, setStatus] = useState<Status>({});
  const id = `edit-${post.id}`;
  const save = (event: FormEvent) => {
    event.preventDefault();
    void attempt(setStatus, async () => onDone(await api<Post>('PATCH', `/api/posts/${encodeURIComponent(post.id)}`, { text })), '');
  };
  return (
    <form onSubmit={save} className="stack" aria-label="Edit post">
      <label htmlFor={id}>Edit your post</label>
      <textarea id={id} value={text} onChange={(e) => setText(e.target.value)} rows={4} required aria-describedby={`${id}-count`} />
      <CharCount id={`${id}-count`} length={text.length} limit={LIMITS.postChars} />
      <div className="row">
        <button type="submit" disabled={text.length > LIMITS.postChars}>Save</button>
        <button type="button" className="secondary" onClick={() => onDone()}>Cancel</button>
      </div>
      <ErrorBox error={status.error} />
    </form>
  );
}
