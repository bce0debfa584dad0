import { useEffect, useState, type FormEvent } from 'react';
import { api, type ApiResponse, type Post } from '../api';
import { ErrorBox, Loading, PersonLink } from '../components';
import { useTitle } from '../hooks';
import { PostCard } from '../post-card';
import { navigate } from '../router';

const queryOfUrl = () => new URLSearchParams(window.location.search).get('q') ?? '';

/**
 * Search: people (by name or address, or a pasted profile link: their card before following) and
 * the words of posts on my site and in my feed. The query lives in the URL (?q=), so a #tag link
 * and the back button work.
 */
export function SearchView() {
  const [q, setQ] = useState(queryOfUrl);
  const [input, setInput] = useState(q);
  const [result, setResult] = useState<ApiResponse<'search'>>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  useTitle(q ? `${q} · Search · Hearth` : 'Search · Hearth');
  useEffect(() => {
    const update = () => {
      setQ(queryOfUrl());
      setInput(queryOfUrl());
    };
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  useEffect(() => {
    if (!q.trim()) return setResult(undefined);
    let current = true;
    setBusy(true);
    setError(undefined);
    api<ApiResponse<'search'>>('GET', `/api/search?q=${encodeURIComponent(q)}`).then(
      (r) => current && setResult(r),
      (e: unknown) => current && setError(e),
    ).finally(() => current && setBusy(false));
    return () => {
      current = false;
    };
  }, [q]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    navigate(`/search?q=${encodeURIComponent(input.trim())}`);
  };
  const change = (old: Post, updated: Post | null) =>
    result && setResult({ ...result, posts: result.posts.flatMap((p) => (p.author !== old.author || p.id !== old.id ? [p] : updated ? [updated] : [])) });
  return (
    <main className="search-results">
      <h1>Search</h1>
      <form onSubmit={submit} className="row" role="search" aria-label="Search">
        <label htmlFor="search-q" className="visually-hidden">Search for people or words</label>
        <input id="search-q" type="search" value={input} onChange={(e) => setInput(e.target.value)} placeholder="A name, name@example.com, a profile link, or words" required />
        <button type="submit">Search</button>
      </form>
      <ErrorBox error={error} />
      {busy && !result && <Loading what="results" />}
      {result && (
        <>
          <section aria-label="People">
            <h2>People</h2>
            {result.people.length === 0 ? (
              <p className="empty">Nobody by that name here. To find someone on another site, type their full address, like name@example.com.</p>
            ) : (
              <ul className="people">
                {result.people.map((p) => (
                  <li key={p.address}>
                    <PersonLink address={p.address} name={p.displayName} avatarUrl={p.avatarUrl} avatar />
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section aria-label="Posts">
            <h2>Posts</h2>
            {result.posts.length === 0 && <p className="empty">No posts on your site or in your feed have these words.</p>}
            {result.posts.map((p) => (
              <PostCard key={`${p.repostedBy?.address ?? ''}:${p.author}/${p.id}`} post={p} onChange={(u) => change(p, u)} />
            ))}
          </section>
        </>
      )}
    </main>
  );
}
