// Small inline SVG icons: the same on every system (font glyphs such as ⏱ or ⏸ are
// missing from many Linux fonts). Decorative: the text beside them carries the meaning.
import type { EventVerdict } from '../api.ts';

const PATHS = {
  check: 'M3.5 8.5l3 3 6-7',
  cross: 'M4 4l8 8M12 4l-8 8',
  clock: 'M8 2.5a5.5 5.5 0 1 0 0 11a5.5 5.5 0 1 0 0-11M8 5v3.2l2.2 1.4',
  info: 'M8 2.5a5.5 5.5 0 1 0 0 11a5.5 5.5 0 1 0 0-11M8 7.4v3.4M8 5.1v.1',
  pause: 'M5.5 3.5v9M10.5 3.5v9',
  play: 'M5 3.2v9.6l7.5-4.8z',
  down: 'M8 3v10M3.8 8.8L8 13l4.2-4.2',
  warn: 'M8 3.5v5.5M8 11.6v.2',
  dot: 'M8 4.5a3.5 3.5 0 1 0 0 7a3.5 3.5 0 1 0 0-7',
  mail: 'M2.5 4.5h11v7.5h-11zM2.8 4.8L8 9l5.2-4.2',
  bell: 'M4.5 11.2V7.5a3.5 3.5 0 0 1 7 0v3.7l1.2 1.1H3.3zM6.8 13.8h2.4',
} as const;

export type IconName = keyof typeof PATHS;

export function Icon({ name, className }: { name: IconName; className?: string }) {
  const filled = name === 'play' || name === 'dot';
  return (
    <svg className={`icon${className ? ` ${className}` : ''}`} viewBox="0 0 16 16" width="1em" height="1em" aria-hidden="true" focusable="false">
      <path
        d={PATHS[name]}
        fill={filled ? 'currentColor' : 'none'}
        stroke="currentColor"
        strokeWidth={name === 'warn' ? 2.2 : name === 'info' || name === 'clock' ? 1.6 : 1.8}
        strokeLinecap="round"
        strokeLinejoin="round"
      />
    </svg>
  );
}

export const VERDICT_ICON: Record<EventVerdict, IconName> = { accept: 'check', reject: 'cross', defer: 'clock', info: 'info' };
