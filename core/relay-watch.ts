// The open-relay self-test after a change of trust (docs/design.md §5): a change of
// networks, proxies or listeners runs it at once; the result is in the gateway's status,
// and a failure (or the recovery after one) is an event. Runs never overlap: a change
// during a run asks for one more.
import type { DoctorCheck } from './doctor/types.ts';

/** The last relay self-test, for the status strip and the tray. */
export interface RelayStatus {
  ok: boolean;
  status: 'ok' | 'warn' | 'fail';
  ranAt: string;
  detail: string;
  fix: string;
}

export function relayStatus(c: { status: string; detail?: string; fix?: string }, ranAt: string): RelayStatus {
  const status = c.status === 'fail' ? 'fail' : c.status === 'warn' ? 'warn' : 'ok';
  return { ok: status !== 'fail', status, ranAt, detail: c.detail ?? '', fix: c.fix ?? '' };
}

export interface RelayWatchDeps {
  /** Runs the self-test (relaySelfTestCheck against the gateway). */
  run(): Promise<DoctorCheck>;
  /** A failure, or passing again after one. */
  say(text: string, ok: boolean): void;
  changed(): void;
}

export class RelayWatch {
  /** The last result (null: not run yet). */
  last: RelayStatus | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private readonly d: RelayWatchDeps;

  constructor(d: RelayWatchDeps) {
    this.d = d;
  }

  /** Runs the self-test now (after the one running, if any); resolves when the latest requested run is done. */
  checkSoon(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const c = await this.d.run().catch((e: Error) => ({
          id: 'relay-self-test',
          status: 'warn' as const,
          title: 'Open-relay self-test',
          detail: `the self-test could not run: ${e.message}`,
          fix: 'Run the setup check again.',
        }));
        // Trust changed while this run was under way: its answer may mix the two configs
        // (the probe saw the new networks, the fix text the old); only the next run counts.
        if (this.again) continue;
        const before = this.last;
        this.last = relayStatus(c, new Date().toISOString());
        if (!this.last.ok || before?.ok === false) {
          this.d.say(
            this.last.ok ? `relay self-test after the change: passed again — ${c.detail}` : `relay self-test after the change: ${c.detail}. ${c.fix}`,
            this.last.ok,
          );
        }
        this.d.changed();
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Resolves when no run is under way. */
  async settled(): Promise<void> {
    await this.running?.catch(() => {});
  }
}
