import { useState, type FormEvent } from 'react';
import { LIMITS } from '@hearth/protocol/limits';
import { markdownToPlainText } from '@hearth/protocol/markdown';
import { api, session, type PostDetail, type Profile } from '../api';
import { ErrorBox, Link, Loading, localName, personPath, PersonLink, Text, Time } from '../components';
import { CharCount } from '../compose';
import { attempt, useLoad, useTitle, type Status } from '../hooks';
import { PostCard } from '../post-card';

/**
 * One post with its comments. A visitor reads a post of this site from the public API; when I
 * am logged in, any post comes through my own site, and I can comment (a signed envelope to the
 * author's site). The author moderates: delete a comment (after asking) or block its writer.
 */
export function ThreadView({ address, postId }: { address: string; postId: string }) {
  const signedIn = Boolean(session.token);
  const local = localName(address);
  const post = useLoad(async () => {
    if (signedIn) return api<PostDetail>('GET', `/api/people/${encodeURIComponent(address)}/posts/${postId}`);
    const [detail, author] = await Promise.all([api<PostDetail>('GET', `/api/users/${local}/posts/${postId}`), api<Profile>('GET', `/api/users/${local}`)]);
    return { ...detail, authorProfile: { address, displayName: author.displayName, avatarUrl: author.avatarUrl } };
  }, [address, postId, signedIn]);
  const [comment, setComment] = useState('');
  const [replyTo, setReplyTo] = useState<{ id: string; author: string }>();
  const [status, setStatus] = useState<Status>({});
  const [modStatus, setModStatus] = useState<Status>({});
  const isOwner = Boolean(local) && session.username === local;
  const name = post.data?.authorProfile?.displayName ?? address.split('@')[0]!;
  useTitle(post.data && `${name}: ${summary(post.data.text, 60)}`);
  const remove = (commentId: string, author: string) => {
    if (!window.confirm(`Delete this comment by ${author}? This cannot be undone.`)) return;
    void attempt(setModStatus, async () => {
      await api('DELETE', `/api/posts/${postId}/comments/${commentId}`);
      post.reload();
    }, 'Comment deleted.');
  };
  const block = (author: string) => {
    if (!window.confirm(`Block ${author}? Nothing they send will reach you, and neither of you will follow the other. They are not told.`)) return;
    void attempt(setModStatus, () => api('POST', '/api/blocks', { address: author }), `${author} is blocked.`);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void attempt(setStatus, async () => {
      await api('POST', '/api/comments', { post: { author: address, id: postId }, text: comment, ...(replyTo ? { replyTo: replyTo.id } : {}) });
      setComment('');
      setReplyTo(undefined);
      // The comment shows once the author's site has it: look again shortly.
      setTimeout(post.reload, 400);
    }, local ? 'Comment posted.' : `Sent to ${name}'s site.`);
  };
  if (post.error) return <main><ErrorBox error={post.error} /></main>;
  if (!post.data) return <main><Loading what="post" /></main>;
  const d = post.data;
  return (
    <main className="public">
      <PostCard post={d} full onChange={(updated) => (updated ? post.set({ ...d, ...updated }) : window.history.back())} />
      <section aria-label="Comments">
        <h2>Comments</h2>
        {d.comments.length === 0 && <p className="empty">No comments yet.</p>}
        <CommentList
          comments={d.comments}
          parent={undefined}
          render={(c) => (
            <>
              <p className="comment-author">
                <PersonLink address={c.author} name={c.authorProfile?.displayName} avatarUrl={c.authorProfile?.avatarUrl} avatar /> · <Time iso={c.createdAt} />
              </p>
              <Text text={c.text} />
              <p className="moderation">
                {signedIn && (
                  <button
                    type="button"
                    className="small secondary"
                    onClick={() => {
                      setReplyTo({ id: c.id, author: c.authorProfile?.displayName || c.author });
                      document.getElementById('comment')?.focus();
                    }}
                  >
                    Reply
                  </button>
                )}{' '}
                {isOwner && (
                  <>
                    <button type="button" className="small secondary" onClick={() => remove(c.id, c.author)} aria-label={`Delete comment by ${c.author}`}>Delete</button>{' '}
                    <button type="button" className="small secondary" onClick={() => block(c.author)} aria-label={`Block ${c.author}`}>Block</button>
                  </>
                )}
              </p>
            </>
          )}
        />
        {modStatus.message && <p role="status">{modStatus.message}</p>}
        <ErrorBox error={modStatus.error} />
        {signedIn ? (
          <form onSubmit={submit} className="stack">
            {replyTo && (
              <p className="hint" role="status">
                Replying to {replyTo.author}{' '}
                <button type="button" className="small secondary" onClick={() => setReplyTo(undefined)}>Cancel reply</button>
              </p>
            )}
            <label htmlFor="comment">{replyTo ? `Your reply to ${replyTo.author}` : 'Your comment'}</label>
            <textarea id="comment" value={comment} onChange={(e) => setComment(e.target.value)} required rows={3} aria-describedby="comment-count" />
            <CharCount id="comment-count" length={comment.length} limit={LIMITS.commentChars} />
            <button type="submit" disabled={comment.length > LIMITS.commentChars}>Comment</button>
            {status.message && <p role="status">{status.message}</p>}
            <ErrorBox error={status.error} />
          </form>
        ) : (
          <p className="hint"><Link to="/login">Log in</Link> on your own Hearth site to comment.</p>
        )}
      </section>
      <p>
        <Link to={personPath(address)}>More from {name}</Link>
      </p>
    </main>
  );
}

type Comment = PostDetail['comments'][number];

/**
 * Comments as a thread: replies nested under the comment they answer (a reply whose comment is
 * gone stays at the top level rather than disappearing).
 */
function CommentList({ comments, parent, render }: { comments: Comment[]; parent: string | undefined; render: (c: Comment) => React.ReactNode }) {
  const ids = new Set(comments.map((c) => c.id));
  const level = comments.filter((c) => (parent === undefined ? !c.replyTo || !ids.has(c.replyTo) : c.replyTo === parent));
  if (level.length === 0) return null;
  return (
    <ul className={parent === undefined ? 'comments' : 'replies'}>
      {level.map((c) => (
        <li key={c.id} className="comment">
          {render(c)}
          <CommentList comments={comments} parent={c.id} render={render} />
        </li>
      ))}
    </ul>
  );
}

/** Plain words for a title: Markdown marks would show as symbols there. */
function summary(text: string, max: number): string {
  const plain = markdownToPlainText(text);
  return plain.length > max ? `${plain.slice(0, max - 1).trimEnd()}…` : plain;
}
