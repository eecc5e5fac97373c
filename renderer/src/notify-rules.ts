// What asks a person to act (docs/design.md §7.3, §7.5), decided once for both places the
// family looks: the desktop app's notifications (electron/notify.ts re-exports this file)
// and the headless dashboard's browser notifications (renderer/src/notify.ts). Pure: the
// clock is passed in; no DOM, no Node — it sits under renderer/src so the renderer's
// boundary (§9.2: its own files and the types of core/api.ts) holds, and the Electron
// main process imports it from here.
//   - what: a port that could not be bound, an open relay, a config edit refused, a
//     failed setup check, a ban, a delivery that failed for good (the bounce), a rate
//     limit hit (rule 'rate limits'), a certificate that could not be issued or renewed
//     (rule 'acme');
//   - de-duplicated: one notification per problem key (a port, a banned address, a
//     queued message, an account), again only after `repeatMs`;
//   - throttled: at most `burst` per `windowMs`; what is held back is counted into the
//     next one ("and 3 more").
import type { GatewayEvent, GatewayStatus } from '../../core/api.ts';

export interface NotificationModel {
  key: string;
  title: string;
  body: string;
  /** A short line for the tray menu. */
  summary: string;
}

export interface NotifierOptions {
  repeatMs: number;
  burst: number;
  windowMs: number;
}

export const NOTIFIER_DEFAULTS: NotifierOptions = { repeatMs: 60 * 60_000, burst: 3, windowMs: 60_000 };

export class Notifier {
  private readonly opts: NotifierOptions;
  private readonly lastShown = new Map<string, number>();
  private failing = new Set<string>();
  private relayFailing = false;
  private configError: string | null = null;
  private setupSeen: string | null = null;
  private recent: number[] = [];
  private held = 0;

  constructor(opts: Partial<NotifierOptions> = {}) {
    this.opts = { ...NOTIFIER_DEFAULTS, ...opts };
  }

  /**
   * From a status: listeners that could not be bound (once when they start failing, each
   * start; several at once are one notification), the relay self-test failing, a config
   * edit refused, and a setup check that found failures (once per run of the check whose
   * failing items differ from the last one told).
   */
  fromStatus(s: GatewayStatus, now: number): NotificationModel[] {
    return [...this.relayAndConfig(s, now), ...this.listeners(s, now), ...this.setupCheck(s, now)];
  }

  /**
   * The relay self-test failing (docs/design.md §5) — once each time it starts failing,
   * never held back by the throttle — and a config file edit that was refused.
   */
  private relayAndConfig(s: GatewayStatus, now: number): NotificationModel[] {
    const out: NotificationModel[] = [];
    const relayFails = !!s.relay && !s.relay.ok;
    if (relayFails && !this.relayFailing) {
      const n = this.admit(
        {
          key: 'relay',
          title: 'Postern is an OPEN RELAY',
          body: `Anyone on the Internet may now send mail through Postern. ${sentence(s.relay?.fix || 'Open the dashboard and undo the last change to Internal networks.')}`,
          summary: 'OPEN RELAY: undo the last network change',
        },
        now,
        true,
      );
      if (n) out.push(n);
    }
    if (s.relay) this.relayFailing = relayFails;
    const cfgError = s.configError?.message ?? null;
    if (cfgError && cfgError !== this.configError) {
      const n = this.admit(
        {
          key: 'config',
          title: 'config.json was not applied',
          body: `${sentence(cfgError)} The previous settings stay in use.`,
          summary: 'config.json was not applied',
        },
        now,
        true,
      );
      if (n) out.push(n);
    }
    this.configError = cfgError;
    return out;
  }

  private listeners(s: GatewayStatus, now: number): NotificationModel[] {
    const failing = new Set<string>();
    const fresh: GatewayStatus['listeners'] = [];
    for (const l of s.listeners) {
      if (l.ok) continue;
      const key = `listen:${l.host}:${l.port}`;
      failing.add(key);
      if (!this.failing.has(key)) fresh.push(l);
    }
    // A stop clears the listeners; a failure after the next start is news again.
    this.failing = failing;
    if (!fresh.length) return [];
    const ports = fresh.map((l) => l.port);
    const list = ports.length === 1 ? `port ${ports[0]}` : `ports ${ports.slice(0, -1).join(', ')} and ${ports.at(-1)}`;
    const first = fresh[0];
    const n = this.admit(
      {
        key: `listen:${ports.join(',')}`,
        title: `Postern cannot receive mail on ${list}`,
        body: `${sentence(first.error ?? 'the port could not be opened')}${first.fix ? ` ${sentence(first.fix)}` : ''}`,
        summary: `${list.charAt(0).toUpperCase()}${list.slice(1)} not listening`,
      },
      now,
      true,
    );
    return n ? [n] : [];
  }

  /** A setup check (docs/design.md §5) with failures: once per set of failing items. */
  private setupCheck(s: GatewayStatus, now: number): NotificationModel[] {
    if (!s.setup) return [];
    const failing = s.setup.fails > 0 ? s.setup.failing.join('\n') : '';
    const seen = this.setupSeen;
    this.setupSeen = failing;
    if (!failing || failing === seen) return [];
    const n = s.setup.fails;
    const shown = this.admit(
      {
        key: 'setup',
        title: `The setup check found ${n === 1 ? 'a problem' : `${n} problems`}`,
        body: `${s.setup.failing.slice(0, 3).map(sentence).join(' ')}${s.setup.failing.length > 3 ? ` (and ${s.setup.failing.length - 3} more)` : ''} The Setup page says how to fix ${n === 1 ? 'it' : 'them'}.`,
        summary: `Setup check: ${n} problem${n === 1 ? '' : 's'}`,
      },
      now,
      true,
    );
    return shown ? [shown] : [];
  }

  fromEvent(e: GatewayEvent, now: number): NotificationModel | null {
    const n = eventNotification(e);
    return n ? this.admit(n, now, false) : null;
  }

  private admit(n: NotificationModel, now: number, force: boolean): NotificationModel | null {
    const last = this.lastShown.get(n.key);
    if (!force && last !== undefined && now - last < this.opts.repeatMs) return null;
    this.recent = this.recent.filter((t) => now - t < this.opts.windowMs);
    if (this.recent.length >= this.opts.burst) {
      this.held++;
      this.lastShown.set(n.key, now);
      return null;
    }
    this.recent.push(now);
    this.lastShown.set(n.key, now);
    if (this.lastShown.size > 10_000) this.lastShown.delete(this.lastShown.keys().next().value as string);
    if (this.held) {
      n = { ...n, body: `${n.body} (and ${this.held} more: open the dashboard)` };
      this.held = 0;
    }
    return n;
  }
}

/** Capitalised, ending in a full stop. */
function sentence(s: string): string {
  const t = s.trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

/** What an event asks of a person, if anything (no state: de-duplication is Notifier's). */
export function eventNotification(e: GatewayEvent): NotificationModel | null {
  if (e.rule === 'auth ban' && e.stage === 'auth' && e.verdict === 'reject') {
    // The ban itself (stage auth); later refusals of the banned address (connect, mail) are not news.
    const who = e.client || 'a client';
    return {
      key: `ban:${e.client}`,
      title: `Blocked ${who} after failed logins`,
      body: `${e.user ? `Logins as "${e.user}" failed too often` : 'Too many logins failed'}${e.reason ? ` (${e.reason})` : ''}. ${who} cannot connect until the block ends; if this was you, check the password and wait.`,
      summary: `${who} blocked after failed logins`,
    };
  }
  if (e.stage === 'delivery' && e.verdict === 'reject') {
    // Failed for good: the sender gets a bounce (docs/design.md §3.4); one notification per message.
    const id = e.queueId || `${e.from ?? ''}>${e.to ?? ''}`;
    return {
      key: `delivery:${id}`,
      title: 'A message could not be delivered',
      body: `${e.to ? `To ${e.to}` : 'A message'}${e.from !== undefined ? ` from ${e.from || '<>'}` : ''} failed for good: ${e.text || `code ${e.code}`}`,
      summary: `Delivery to ${e.to || 'a recipient'} failed`,
    };
  }
  if (e.rule === 'rate limits' && (e.verdict === 'reject' || e.verdict === 'defer')) {
    // An account over its hourly limits may be a stolen password; a client over its per-minute ones, a flood.
    const who = e.user ? `account ${e.user}` : e.client || 'a client';
    return {
      key: `rate:${e.user || e.client}`,
      title: e.user ? `${e.user} hit a sending limit` : `${who} hit a rate limit`,
      body: `${sentence(e.reason || e.text)}${e.user ? ' If that was not them, change the password on the Accounts page.' : ''}`,
      summary: `Rate limit: ${who}`,
    };
  }
  if (e.rule === 'acme' && e.verdict === 'reject') {
    return {
      key: 'acme',
      title: e.reason === 'issuing failed' ? 'No certificate could be issued' : 'The certificate could not be renewed',
      body: sentence(e.text),
      summary: 'Certificate renewal failed',
    };
  }
  return null;
}
