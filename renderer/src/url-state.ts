// Page state kept in the address (docs/design.md §7.4): `#/messages?q=from:grandma&open=42`.
// A reload, a bookmark or the back button bring the same view back.

export function hashPage(): string {
  return location.hash.replace(/^#\/?/, '').split('?')[0];
}

export function hashParams(): URLSearchParams {
  const h = location.hash;
  const i = h.indexOf('?');
  return new URLSearchParams(i >= 0 ? h.slice(i + 1) : '');
}

/** Sets (or, with '' / null, removes) parameters of the current page; a new history entry. */
export function setHashParams(changes: Record<string, string | number | null>, replace = false): void {
  const p = hashParams();
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') p.delete(k);
    else p.set(k, String(v));
  }
  const qs = p.toString();
  const next = `#/${hashPage()}${qs ? `?${qs}` : ''}`;
  if (replace) history.replaceState(null, '', next);
  if (replace) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = next;
}
