// The tray as data (docs/design.md §7.3): icon state, tooltip and menu derived from the
// gateway's status, the internal networks and the login-item setting. Pure, so every
// state is tested without Electron; electron/tray.ts turns the model into a Tray.
import type { GatewayStatus } from '../core/gateway.ts';
import type { NetworkView } from '../core/net/networks.ts';

export type TrayIconState = 'running' | 'stopped' | 'error' | 'attention';

export type MenuAction =
  | { kind: 'start' }
  | { kind: 'stop' }
  | { kind: 'open' }
  | { kind: 'network'; cidr: string; enabled: boolean }
  | { kind: 'login'; enabled: boolean }
  | { kind: 'ports' }
  | { kind: 'quit' };

export interface MenuItemModel {
  type: 'normal' | 'checkbox' | 'separator' | 'submenu';
  label?: string;
  enabled?: boolean;
  checked?: boolean;
  action?: MenuAction;
  submenu?: MenuItemModel[];
}

export interface TrayInput {
  /** null until the gateway was created. */
  status: GatewayStatus | null;
  networks: NetworkView[];
  openAtLogin: boolean;
  /** Problems a person must act on that the dashboard has not shown yet (bans, failed deliveries). */
  problems: string[];
}

export interface TrayModel {
  icon: TrayIconState;
  tooltip: string;
  menu: MenuItemModel[];
}

/** Electron reads `&` in a label as a mnemonic marker on Windows and Linux. */
export function menuLabel(s: string): string {
  return s.replace(/&/g, '&&');
}

function failedListeners(s: GatewayStatus): GatewayStatus['listeners'] {
  return s.listeners.filter((l) => !l.ok);
}

export function iconState(input: TrayInput): TrayIconState {
  const s = input.status;
  if (!s) return 'stopped';
  if (s.state === 'error') return 'error';
  if (s.state === 'stopped' || s.state === 'starting') return 'stopped';
  // An open relay is the one thing worse than not running (docs/design.md §5): red at once.
  if (s.relay && !s.relay.ok) return 'error';
  const moved = s.listeners.some((l) => l.fallbackFrom) || (s.disk && !s.disk.ok);
  return s.configError || moved || failedListeners(s).length || input.problems.length || s.setup?.fails || s.tls?.acme?.lastError ? 'attention' : 'running';
}

export function statusLine(s: GatewayStatus | null): string {
  if (!s) return 'Postern is starting…';
  switch (s.state) {
    case 'starting':
      return 'Gateway starting…';
    case 'stopped':
      return 'Gateway stopped: no mail is received';
    case 'error': {
      const f = failedListeners(s)[0];
      return f?.error ? `Not running: ${f.error}` : 'Not running: open the dashboard to see why';
    }
    case 'running': {
      const ok = s.listeners.filter((l) => l.ok);
      const bad = failedListeners(s);
      const ports = ok.map((l) => l.boundPort ?? l.port).join(', ');
      // On a fallback port (docs/design.md §2): say which, and why.
      const moved = ok.filter((l) => l.fallbackFrom);
      if (moved.length && !bad.length) return `Listening on ${moved.map((l) => `${l.boundPort} instead of ${l.fallbackFrom}`).join(', ')} (needs permission)`;
      return bad.length
        ? `Running on ${ports}; port ${bad.map((l) => l.port).join(', ')} not listening`
        : `Running on port${ok.length > 1 ? 's' : ''} ${ports}`;
    }
  }
}

export function tooltip(input: TrayInput): string {
  const s = input.status;
  const icon = iconState(input);
  const state = !s
    ? 'starting'
    : s.state === 'running' && s.relay && !s.relay.ok
      ? 'OPEN RELAY'
      : s.state === 'running' && icon === 'attention'
        ? 'needs attention'
        : s.state;
  const counts = s ? ` · ${s.counters.accepted} accepted · ${s.counters.rejected} rejected` : '';
  return `Postern: ${state}${counts}`;
}

function networkItem(n: NetworkView): MenuItemModel {
  const name = n.label && n.label !== n.cidr ? `${n.label}: ${n.cidr}` : n.cidr;
  return { type: 'checkbox', label: menuLabel(name), checked: n.enabled, action: { kind: 'network', cidr: n.cidr, enabled: !n.enabled } };
}

export function trayModel(input: TrayInput): TrayModel {
  const s = input.status;
  const running = s?.state === 'running' || s?.state === 'starting';
  const menu: MenuItemModel[] = [{ type: 'normal', label: menuLabel(statusLine(s)), enabled: false }];
  const extra = [
    ...(s?.relay && !s.relay.ok ? ['OPEN RELAY: anyone may send mail through Postern — open the dashboard now'] : []),
    ...(s?.configError ? ['config.json was not applied: open the dashboard'] : []),
    ...(s
      ? failedListeners(s)
          .filter(() => s.state === 'running')
          .map((l) => `Port ${l.port}: ${l.error ?? 'not listening'}`)
      : []),
    ...(s?.state === 'running' ? (s.setup?.failing ?? []).map((title) => `Setup: ${title}`) : []),
    ...(s?.state === 'running' && s.disk && !s.disk.ok ? ['Disk full: new mail is refused (452) until space is freed'] : []),
    // A failed certificate issuing or renewal (docs/design.md §2.5), until an attempt succeeds.
    ...(s?.state === 'running' && s.tls?.acme?.lastError ? [`Certificate ${s.tls.acme.notAfter ? 'renewal' : 'issuing'} failed: ${s.tls.acme.lastError}`] : []),
    ...input.problems,
  ];
  for (const p of extra.slice(0, 3)) menu.push({ type: 'normal', label: menuLabel(`⚠ ${p}`), enabled: false });
  if (extra.length > 3) menu.push({ type: 'normal', label: `⚠ ${extra.length - 3} more: open the dashboard`, enabled: false });
  menu.push(
    { type: 'separator' },
    running
      ? { type: 'normal', label: 'Stop gateway', enabled: s?.state === 'running', action: { kind: 'stop' } }
      : { type: 'normal', label: 'Start gateway', enabled: s !== null, action: { kind: 'start' } },
    { type: 'normal', label: 'Open dashboard', action: { kind: 'open' } },
    // Ports refused (docs/design.md §7.3): the one-time authorisation, again on demand.
    ...(s?.listeners.some((l) => l.fallbackFrom)
      ? [{ type: 'normal' as const, label: 'Allow mail ports 25, 587, 465…', action: { kind: 'ports' as const } }]
      : []),
    {
      type: 'submenu',
      label: 'Internal networks',
      submenu: input.networks.length ? input.networks.map(networkItem) : [{ type: 'normal', label: 'No networks', enabled: false }],
    },
    { type: 'separator' },
    { type: 'checkbox', label: 'Start at login', checked: input.openAtLogin, action: { kind: 'login', enabled: !input.openAtLogin } },
    { type: 'separator' },
    { type: 'normal', label: 'Quit Postern', action: { kind: 'quit' } },
  );
  return { icon: iconState(input), tooltip: tooltip(input), menu };
}
