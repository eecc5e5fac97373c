// Browser notifications in the headless dashboard (docs/design.md §7.5): what needs
// someone — a port down, an open relay, a failed setup check, a ban, a bounce, a rate
// limit hit, a failed certificate renewal — decided by the same rules as the desktop
// app's (notify-rules.ts). Permission is asked only from the alerts button, never on
// page load; the choice to have them is kept in this browser (localStorage). In the
// desktop app the main process notifies, so the button is not shown there.
import { useCallback, useEffect, useState } from 'react';
import type { LiveStore } from './live.ts';
import { Notifier, type NotificationModel } from './notify-rules.ts';

export type AlertState = 'unsupported' | 'off' | 'on' | 'denied';

const KEY = 'postern.alerts';
/** Events older than this when they reach the page (a catch-up after a reconnect) are history, not news. */
const FRESH_MS = 5 * 60_000;

function supported(): boolean {
  return typeof window.Notification === 'function' && !('postern' in window);
}

function wanted(): boolean {
  try {
    return window.localStorage.getItem(KEY) === 'on';
  } catch {
    return false;
  }
}

function remember(on: boolean): void {
  try {
    window.localStorage.setItem(KEY, on ? 'on' : 'off');
  } catch {
    // a browser without storage: alerts last as long as the page
  }
}

function currentState(): AlertState {
  if (!supported()) return 'unsupported';
  if (Notification.permission === 'denied') return 'denied';
  return Notification.permission === 'granted' && wanted() ? 'on' : 'off';
}

function show(n: NotificationModel): void {
  try {
    const shown = new Notification(n.title, { body: n.body, tag: n.key });
    shown.onclick = () => {
      window.focus();
      shown.close();
    };
  } catch {
    // Chromium on Android allows notifications only from a service worker: nothing to show then.
  }
}

/**
 * While alerts are on: every new status and every fresh event goes through the Notifier.
 * The first status and the first page of history are the baseline (what the page shows
 * already is not news); from then on a change or a new event notifies.
 */
export function watchAlerts(live: LiveStore, now: () => number = Date.now): () => void {
  const notifier = new Notifier();
  let seenId = live.lastId;
  let lastStatus = live.status;
  let loaded = !live.loading;
  if (lastStatus) notifier.fromStatus(lastStatus, now());
  return live.subscribe(() => {
    if (live.status && live.status !== lastStatus) {
      const first = !lastStatus;
      lastStatus = live.status;
      const out = notifier.fromStatus(live.status, now());
      if (!first) for (const n of out) show(n);
    }
    if (!loaded) {
      // The page's first look at the history (or a store still loading it): what was, not news.
      loaded = !live.loading;
      seenId = live.lastId;
      return;
    }
    if (live.lastId === seenId) return;
    const ev = live.events;
    let i = ev.length;
    while (i > 0 && ev[i - 1].id > seenId) i--;
    seenId = live.lastId;
    const t = now();
    for (; i < ev.length; i++) {
      if (t - Date.parse(ev[i].time) > FRESH_MS) continue;
      const n = notifier.fromEvent(ev[i], t);
      if (n) show(n);
    }
  });
}

/** The alerts button's state and actions; watches the live store while alerts are on. */
export function useBrowserAlerts(live: LiveStore): { state: AlertState; toggle: () => Promise<void> } {
  const [state, setState] = useState<AlertState>(currentState);
  useEffect(() => (state === 'on' ? watchAlerts(live) : undefined), [live, state]);
  const toggle = useCallback(async () => {
    if (state === 'on') {
      remember(false);
      setState('off');
      return;
    }
    if (state !== 'off') return;
    // Asked here, from the click — never on page load.
    const answer = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
    remember(answer === 'granted');
    setState(answer === 'granted' ? 'on' : answer === 'denied' ? 'denied' : 'off');
  }, [state]);
  return { state, toggle };
}
