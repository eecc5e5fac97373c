// The top bar's alerts button (docs/design.md §7.5): browser notifications are asked for
// here, by a click, never on page load.
import { useApp } from './hooks.ts';
import { useBrowserAlerts } from './notify.ts';
import { Icon } from './components/Icon.tsx';

const TEXT = {
  off: [
    'Turn on alerts',
    'Get a browser notification when something needs you: a port down, an open relay, a failed setup check, a ban, a bounce, a rate limit hit, a failed certificate renewal',
  ],
  on: ['Alerts on', 'This browser shows a notification when something needs you. Click to turn them off.'],
  denied: ['Alerts blocked', 'This browser blocks notifications from this page: allow them in the site settings (the icon left of the address), then reload.'],
} as const;

export function AlertsButton() {
  const { live } = useApp();
  const { state, toggle } = useBrowserAlerts(live);
  if (state === 'unsupported') return null;
  const [text, hint] = TEXT[state];
  return (
    <button
      type="button"
      className={`alerts alerts-${state}`}
      data-testid="alerts-button"
      aria-pressed={state === 'on'}
      disabled={state === 'denied'}
      title={hint}
      onClick={() => void toggle()}
    >
      <Icon name="bell" /> <span className="alerts-text">{text}</span>
    </button>
  );
}
