import { useEffect, useState, type FormEvent } from 'react';
import { LIMITS } from '@hearth/protocol/limits';
import { api, session, uploadImage, type Post } from './api';
import { ErrorBox } from './components';
import { attempt, type Status } from './hooks';

/** Characters left, said before the limit is reached and plainly once it is passed. */
export function CharCount({ id, length, limit }: { id: string; length: number; limit: number }) {
  const left = limit - length;
  const near = left < Math.min(200, limit / 10);
  return (
    <p id={id} className={`count${left < 0 ? ' over' : near ? ' near' : ''}`} aria-live={near ? 'polite' : 'off'}>
      {left < 0 ? `${-left} characters too many: shorten it to post.` : `${left} characters left`}
    </p>
  );
}

const draftKey = () => `hearth.draft.${session.username ?? ''}`;

/** The compose box: text (kept as a draft across reloads), up to 4 images with descriptions. */
export function Compose({ onPosted }: { onPosted: (post: Post) => void }) {
  const [text, setText] = useState(() => localStorage.getItem(draftKey()) ?? '');
  const [images, setImages] = useState<Array<{ id: string; url: string; alt: string }>>([]);
  const [warning, setWarning] = useState<string | undefined>();
  const [uploading, setUploading] = useState(false);
  const [status, setStatus] = useState<Status>({});
  useEffect(() => {
    if (text) localStorage.setItem(draftKey(), text);
    else localStorage.removeItem(draftKey());
  }, [text]);
  const addImages = async (files: FileList | null) => {
    if (!files?.length) return;
    setUploading(true);
    setStatus({});
    try {
      for (const file of Array.from(files).slice(0, LIMITS.attachments - images.length)) {
        const uploaded = await uploadImage(file);
        setImages((list) => [...list, { id: uploaded.id, url: uploaded.url, alt: '' }]);
      }
    } catch (error) {
      setStatus({ error });
    } finally {
      setUploading(false);
    }
  };
  const post = (event: FormEvent) => {
    event.preventDefault();
    void attempt(setStatus, async () => {
      const created = await api<Post>('POST', '/api/posts', { text, ...(warning ? { contentWarning: warning } : {}), ...(images.length ? { attachments: images.map(({ id, alt }) => ({ id, alt })) } : {}) });
      setText('');
      setImages([]);
      setWarning(undefined);
      onPosted(created);
    }, 'Posted.');
  };
  const tooLong = text.length > LIMITS.postChars;
  return (
    <form onSubmit={post} className="stack compose" aria-label="New post">
      <label htmlFor="compose">What's on your mind, {session.username}?</label>
      <textarea id="compose" value={text} onChange={(e) => setText(e.target.value)} rows={4} required aria-describedby="compose-help compose-count" aria-invalid={tooLong} />
      <div className="row spread">
        <p id="compose-help" className="hint">Markdown works: **bold**, _italic_, [links](https://example.com).</p>
        <CharCount id="compose-count" length={text.length} limit={LIMITS.postChars} />
      </div>
      {warning === undefined ? (
        <button type="button" className="small secondary fit" onClick={() => setWarning('')}>Add a content warning</button>
      ) : (
        <>
          <label htmlFor="compose-cw">Content warning: readers see this first, and open the post if they choose</label>
          <div className="row tight">
            <input id="compose-cw" value={warning} maxLength={LIMITS.contentWarningChars} placeholder="e.g. spoilers for the new film" onChange={(e) => setWarning(e.target.value)} />
            <button type="button" className="small secondary" onClick={() => setWarning(undefined)}>Remove</button>
          </div>
        </>
      )}
      <label htmlFor="images">Add images (JPEG, PNG, GIF or WebP, up to {LIMITS.attachments})</label>
      <input id="images" type="file" accept="image/jpeg,image/png,image/gif,image/webp" multiple disabled={uploading || images.length >= LIMITS.attachments} onChange={(e) => { void addImages(e.target.files); e.target.value = ''; }} />
      {uploading && <p role="status">Uploading…</p>}
      {images.map((image, i) => (
        <div key={image.id} className="upload">
          <img src={image.url} alt="" width={80} height={80} />
          <label htmlFor={`alt-${image.id}`}>Describe image {i + 1} for people who cannot see it</label>
          <input id={`alt-${image.id}`} value={image.alt} maxLength={LIMITS.altChars} onChange={(e) => setImages((list) => list.map((x) => (x.id === image.id ? { ...x, alt: e.target.value } : x)))} />
          <button type="button" className="small secondary" onClick={() => setImages((list) => list.filter((x) => x.id !== image.id))}>Remove</button>
        </div>
      ))}
      <button type="submit" disabled={uploading || tooLong}>Post</button>
      {status.message && <p role="status">{status.message}</p>}
      <ErrorBox error={status.error} />
    </form>
  );
}
