// The dashboard shell: top bar with the pages, the status strip, the current page.
import { useEffect, useMemo, useState } from 'react';
import { Ctx, useApp, useConnection } from './hooks.ts';
import type { LiveStore } from './live.ts';
import { StatusStrip } from './components/StatusStrip.tsx';
import { Icon } from './components/Icon.tsx';
import { LiveLog } from './pages/LiveLog.tsx';
import { Messages } from './pages/Messages.tsx';
import { Traffic } from './pages/Traffic.tsx';
import { Networks } from './pages/Networks.tsx';
import { SpfHelper } from './pages/SpfHelper.tsx';
import { Accounts } from './pages/Accounts.tsx';
import { Queue } from './pages/Queue.tsx';
import { Setup } from './pages/Setup.tsx';
import { Settings } from './pages/Settings.tsx';
import { FirstRun } from './pages/FirstRun.tsx';
import { AlertsButton } from './notify-button.tsx';

const PAGES = [
  { id: 'log', title: 'Live log', render: () => <LiveLog /> },
  { id: 'messages', title: 'Messages', render: () => <Messages /> },
  { id: 'traffic', title: 'Traffic', render: () => <Traffic /> },
  { id: 'networks', title: 'Networks', render: () => <Networks /> },
  { id: 'spf', title: 'SPF helper', render: () => <SpfHelper /> },
  { id: 'accounts', title: 'Accounts', render: () => <Accounts /> },
  { id: 'queue', title: 'Queue', render: () => <Queue /> },
  { id: 'setup', title: 'Setup', render: () => <Setup /> },
  { id: 'settings', title: 'Settings', render: () => <Settings /> },
  // The guided first run (docs/design.md §7.1): not a tab; opened on a fresh install.
  { id: 'welcome', title: 'First run', render: () => <FirstRun /> },
] as const;

/** A fresh install (no domain yet) opening on the log goes to the first run instead. */
function useFirstRunRedirect(): void {
  const { client } = useApp();
  useEffect(() => {
    const at = location.hash.replace(/^#\/?/, '');
    if (at !== '' && at !== 'log') return;
    void client.call('settings').then((r) => {
      if (r.ok && r.value.firstRun && currentPage() === 'log') location.hash = '#/welcome';
    });
  }, [client]);
}

type PageId = (typeof PAGES)[number]['id'];

function currentPage(): PageId {
  const id = location.hash.replace(/^#\/?/, '').split('?')[0]; // `#/messages?q=…` (url-state.ts)
  return (PAGES.find((p) => p.id === id)?.id ?? 'log') as PageId;
}

function usePage(): PageId {
  const [page, setPage] = useState(currentPage);
  useEffect(() => {
    const on = () => setPage(currentPage());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return page;
}

export function App({ live }: { live: LiveStore }) {
  const ctx = useMemo(() => ({ client: live.client, live }), [live]);
  return (
    <Ctx.Provider value={ctx}>
      <Shell />
    </Ctx.Provider>
  );
}

function Shell() {
  const page = usePage();
  const connection = useConnection();
  const [menuOpen, setMenuOpen] = useState(false);
  useFirstRunRedirect();
  // biome-ignore lint/correctness/useExhaustiveDependencies: page is the trigger — a new page closes the menu
  useEffect(() => setMenuOpen(false), [page]);
  if (connection === 'unauthorized') return <NoAccess reason="invalid" />;
  const current = PAGES.find((p) => p.id === page)!;
  return (
    <div className={page === 'log' ? 'app app-fixed' : 'app'}>
      <div className="chrome">
        <header className="topbar">
          <a className="brand" href="#/log" aria-label="Postern home">
            <Icon name="mail" className="brand-mark" /> Postern
          </a>
          {/* Phone width (styles.css "phone layout"): the tabs fold into this menu; the current page's name shows beside it. */}
          <button type="button" className="menu-button" aria-expanded={menuOpen} aria-controls="page-tabs" onClick={() => setMenuOpen(!menuOpen)}>
            <span aria-hidden="true">☰</span> <span className="menu-current">{current.title}</span>
          </button>
          <nav id="page-tabs" className={menuOpen ? 'tabs open' : 'tabs'} aria-label="Pages">
            {PAGES.filter((p) => p.id !== 'welcome' || page === 'welcome').map((p) => (
              <a
                key={p.id}
                href={`#/${p.id}`}
                className={p.id === page ? 'tab active' : 'tab'}
                aria-current={p.id === page ? 'page' : undefined}
                onClick={() => setMenuOpen(false)}
              >
                {p.title}
              </a>
            ))}
          </nav>
          <AlertsButton />
          <ConnectionBadge />
        </header>
        <StatusStrip />
      </div>
      <main className={`page page-${page}`} aria-label={current.title}>
        {current.render()}
      </main>
    </div>
  );
}

function ConnectionBadge() {
  const c = useConnection();
  const text = c === 'live' ? 'Live' : c === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  return (
    <span className={`conn conn-${c}`} role="status" data-testid="connection">
      <Icon name="dot" className="dot" /> {text}
    </span>
  );
}

export function NoAccess({ reason }: { reason: 'missing' | 'invalid' }) {
  return (
    <div className="no-access">
      <h1>
        <Icon name="mail" /> Postern
      </h1>
      {reason === 'missing' ? (
        <p>
          This page needs its access link. Open the address that <code>postern serve</code> printed when it started — it ends in <code>?token=…</code>.
        </p>
      ) : (
        <p>
          This access link is not valid. A new link may have been made on the Setup page: run <code>postern dashboard</code> on the server to print the current
          one.
        </p>
      )}
    </div>
  );
}
