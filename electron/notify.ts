// Desktop notifications for what a person must act on (docs/design.md §7.3, §7.5). The
// decisions (Notifier.fromStatus / fromEvent, eventNotification) are the dashboard's own:
// one pure file, renderer/src/notify-rules.ts, so that the desktop app and the headless
// dashboard's browser notifications cannot disagree; main shows what they return. Here:
// only the tray's list of problems.
export { eventNotification, Notifier, NOTIFIER_DEFAULTS, type NotificationModel, type NotifierOptions } from '../renderer/src/notify-rules.ts';

/** The problems list the tray shows until the dashboard is opened. */
export class ProblemList {
  private items: string[] = [];
  add(summary: string): string[] {
    this.items = [summary, ...this.items.filter((s) => s !== summary)].slice(0, 20);
    return this.list();
  }
  clear(): string[] {
    this.items = [];
    return this.list();
  }
  list(): string[] {
    return [...this.items];
  }
}
