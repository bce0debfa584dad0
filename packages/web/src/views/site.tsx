import { api, type ApiResponse } from '../api';
import { backendHost, ErrorBox, Link, Loading } from '../components';
import { useLoad } from '../hooks';
import { PersonView } from './person';

export function SiteView() {
  const site = useLoad(() => api<ApiResponse<'siteInfo'>>('GET', '/api/site'), []);
  if (site.error) return <main><ErrorBox error={site.error} /></main>;
  if (!site.data) return <main><Loading what="site" /></main>;
  const users = site.data.users ?? [];
  if (users.length === 1) return <PersonView address={`${users[0]!}@${backendHost()}`} />;
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

