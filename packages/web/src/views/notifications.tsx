import { useCallback, useEffect } from 'react';
import { api, type ApiResponse, type NotificationView } from '../api';
import { markdownToPlainText } from '@hearth/protocol/markdown';
import { ErrorBox, Link, Loading, personPath, postPath, Time } from '../components';
import { useLoad, useTitle } from '../hooks';
import { useLiveEvents, type LiveEvent } from '../live';
import { session } from '../api';

/** Notifications that belong together: the same kind about the same post, one after another. */
export interface NotificationGroup {
  key: string;
  kind: string;
  items: NotificationView[];
}

export function groupNotifications(items: NotificationView[]): NotificationGroup[] {
  const groups: NotificationGroup[] = [];
  for (const n of items) {
    const about = typeof n.data.post === 'string' ? n.data.post : '';
    const groupable = n.kind === 'like' || n.kind === 'follower' || n.kind === 'repost';
    const last = groups[groups.length - 1];
    if (groupable && last && last.kind === n.kind && (n.kind === 'follower' || last.items[0]!.data.post === about)) last.items.push(n);
    else groups.push({ key: `${n.seq}`, kind: n.kind, items: [n] });
  }
  return groups;
}

const excerpt = (text: string, max = 60) => {
  // Plain words: Markdown's marks (**bold**, _italic_, `code`, # heading) would show as symbols here.
  const flat = markdownToPlainText(text);
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

function Actors({ group }: { group: NotificationGroup }) {
  const people = [...new Map(group.items.filter((n) => n.actor).map((n) => [n.actor!.address, n.actor!])).values()];
  const first = people[0];
  if (!first) return null;
  const name = (p: { address: string; displayName?: string }) => p.displayName || p.address.split('@')[0];
  const others = people.length - 1;
  return (
    <>
      <Link to={personPath(first.address)}><strong>{name(first)}</strong></Link>
      {others > 0 && <> and {others === 1 ? <Link to={personPath(people[1]!.address)}><strong>{name(people[1]!)}</strong></Link> : `${others} others`}</>}
    </>
  );
}

/** One line that says what happened and links to it. */
function Describe({ group }: { group: NotificationGroup }) {
  const n = group.items[0]!;
  const post = n.post && <Link to={`/@${session.username ?? ''}/${n.post.id}`}><em>{excerpt(n.post.text)}</em></Link>;
  switch (n.kind) {
    case 'follower':
      return <><Actors group={group} /> started following you</>;
    case 'comment':
      return <><Actors group={group} /> commented on {post ?? 'your post'}{n.comment && <>: “{excerpt(n.comment.text, 80)}”</>}</>;
    case 'like':
      return <><Actors group={group} /> liked {post ?? 'your post'}</>;
    case 'repost':
      return <><Actors group={group} /> shared {post ?? 'your post'} with their followers</>;
    case 'mention': {
      const from = n.actor?.address ?? '';
      const where = typeof n.data.post === 'string' ? <Link to={postPath(from, n.data.post)}>a post</Link> : 'a post';
      return <><Actors group={group} /> mentioned you in {where}{typeof n.data.excerpt === 'string' && <>: “{excerpt(n.data.excerpt, 80)}”</>}</>;
    }
    case 'message':
      return <><Link to={`/messages?with=${encodeURIComponent(n.actor?.address ?? '')}`}><strong>New message</strong></Link> from <Actors group={group} /></>;
    case 'delivery_failed':
      return <>Could not deliver to {String(n.data.to)}. It was tried for days; the site may be gone.</>;
    case 'clock_skew':
      return <>Clocks disagree with {String(n.data.to)}: {String(n.data.message)}. Messages to it wait until they agree; nothing is lost.</>;
    default:
      return <>{n.kind}</>;
  }
}

/** My notifications, newest first, grouped and linked; shown ones are marked read. */
export function NotificationsView({ onRead }: { onRead: (unread: number) => void }) {
  const notes = useLoad(() => api<ApiResponse<'notifications'>>('GET', '/api/notifications?limit=100'), []);
  useTitle('Notifications · Hearth');
  useLiveEvents(useCallback((event: LiveEvent) => {
    if ((event.type === 'notification' && event.kind !== 'read') || event.type === 'ready') notes.reload();
  }, [notes.reload]));
  const newest = notes.data?.items[0]?.seq;
  const unread = notes.data?.unread ?? 0;
  useEffect(() => {
    // Seen once they are on screen: mark read up to the newest shown.
    if (newest === undefined || unread === 0) return;
    void api<ApiResponse<'markNotificationsRead'>>('POST', '/api/notifications/read', { upTo: newest }).then((r) => onRead(r.unread), () => undefined);
  }, [newest, unread, onRead]);
  const groups = groupNotifications(notes.data?.items ?? []);
  return (
    <main>
      <h1>Notifications</h1>
      <ErrorBox error={notes.error} />
      {!notes.data && !notes.error && <Loading what="notifications" />}
      {notes.data?.items.length === 0 && <p className="empty">Nothing yet. When someone follows you, comments or likes your posts, it shows here.</p>}
      <ul className="notifications">
        {groups.map((g) => (
          <li key={g.key} className={g.items.some((n) => !n.read) ? 'unread' : undefined}>
            <span className="what"><Describe group={g} /></span> <Time iso={g.items[0]!.createdAt} />
            {g.items.some((n) => !n.read) && <span className="visually-hidden"> (new)</span>}
          </li>
        ))}
      </ul>
    </main>
  );
}
