// Entry: pick the transport (Electron bridge, else HTTP with the token from the
// URL), start the live store, render.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './styles.css';
import { App, NoAccess } from './App.tsx';
import { bridgeTransport, createClient, httpTransport } from './client.ts';
import { LiveStore } from './live.ts';

const TOKEN_KEY = 'postern-token';

/** The token from `?token=` (kept for this tab, then removed from the address bar). */
function takeToken(): string | null {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const root = createRoot(document.getElementById('root')!);

function boot(): void {
  let live: LiveStore;
  if (window.postern) {
    live = new LiveStore(createClient(bridgeTransport(window.postern)));
  } else {
    const token = takeToken();
    if (!token) {
      root.render(<NoAccess reason="missing" />);
      return;
    }
    live = new LiveStore(
      createClient(
        httpTransport(token, '/', () => {
          sessionStorage.removeItem(TOKEN_KEY);
          live.markUnauthorized();
        }),
      ),
    );
  }
  live.start();
  root.render(
    <StrictMode>
      <App live={live} />
    </StrictMode>,
  );
}

boot();
