// The outbound check (docs/design.md §5): with a smarthost, connect, TLS as configured, and
// log in with the configured credentials — the same route and options the delivery
// uses (core/delivery/smtp-client.ts), nothing sent. Direct delivery can't be checked from
// here without mailing someone: say what it needs.
import type { DoctorCheck } from './types.ts';
import { connectionFor, finishOnce, smarthostTarget } from '../delivery/smtp-client.ts';
import { tlsProblem } from './tls-words.ts';
import { check, within, type DoctorContext } from './common.ts';
import { SEALED_PASSWORD_FIX, sealedSecretNotice } from '../config/secrets.ts';

type NmError = Error & { code?: string; response?: string; responseCode?: number };

const SET_SMARTHOST =
  'Your Internet provider probably blocks port 25: enter your mail provider’s sending server, login and password under Settings → Outgoing mail.';

interface Outcome {
  ok: boolean;
  detail: string;
  fix: string;
  warn?: boolean;
}

function attempt(ctx: DoctorContext, timeoutMs: number): Promise<Outcome> {
  const cfg = ctx.config;
  const t = smarthostTarget(cfg);
  const where = `${t.host}:${t.port}`;
  return new Promise((resolve) => {
    const conn = connectionFor(t, { heloName: cfg.hostname, timeoutMs, socketTimeoutMs: timeoutMs });
    const finish = finishOnce(conn);
    const done = (o: Outcome) => finish(() => resolve(o));
    const failed = (e: NmError, stage: string): Outcome => {
      const text = (e.response ?? e.message).trim();
      if (e.code === 'EAUTH')
        return {
          ok: false,
          detail: `${where} refused the login as "${t.auth?.user}": ${text}`,
          fix: 'Check the login and password under Settings → Outgoing mail (many providers want an app password here, not your usual one).',
        };
      if (e.code === 'ETLS' || /certificate|self[- ]signed|TLS|SSL|EPROTO/i.test(`${e.code} ${e.message}`)) {
        // Plain words on the page; Node's own text (--use-system-ca hints and all) only in the log.
        console.error(`postern: smarthost TLS (${stage}): ${e.code ?? ''} ${text}`);
        return {
          ok: false,
          detail: `TLS with ${where} failed (${stage}): ${tlsProblem(e, t.host)}`,
          fix: 'Check the encryption under Settings → Outgoing mail: port 465 needs “TLS from the start”, port 587 uses STARTTLS, and the server name must match its certificate.',
        };
      }
      return {
        ok: false,
        detail: `could not reach the smarthost ${where} (${stage}): ${text}`,
        fix: 'Check the sending server and port under Settings → Outgoing mail (usually 587, or 465 with “TLS from the start”) and that this computer can reach the Internet.',
      };
    };
    conn.once('error', (e: NmError) => done(failed(e, 'connection')));
    conn.connect((err?: NmError) => {
      if (err) return done(failed(err, 'connection'));
      const base = `${where} answered, ${conn.secure ? 'TLS' : 'no TLS'}`;
      if (!t.auth) return done({ ok: true, detail: `${base}; no login configured (the smarthost must accept mail from this address without one)`, fix: '' });
      if (!conn.allowsAuth) {
        return done({
          ok: false,
          detail: `${base}, but it offers no login (AUTH)${conn.secure ? '' : ' on an unencrypted connection'}`,
          fix: 'Check the port and encryption under Settings → Outgoing mail with your provider (logins are usually on 587 with STARTTLS, or 465 with “TLS from the start”).',
        });
      }
      conn.login({ user: t.auth.user, pass: t.auth.pass }, (e: NmError | null) => {
        if (e) return done(failed(e, 'login'));
        if (!conn.secure) {
          return done({
            ok: true,
            warn: true,
            detail: `${base}; login as "${t.auth!.user}" accepted, but the password went over an unencrypted connection`,
            fix: 'Under Settings → Outgoing mail choose “STARTTLS, required” (or port 465 with “TLS from the start”) so the password is never sent in clear.',
          });
        }
        done({ ok: true, detail: `${base}; login as "${t.auth!.user}" accepted`, fix: '' });
      });
    });
  });
}

export async function smarthostCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const cfg = ctx.config;
  if (cfg.outbound.mode === 'mx') {
    return check(
      'smarthost',
      'warn',
      `direct delivery: mail to others goes straight to their MX servers, which needs outbound port 25 (most home ISPs block it) and reverse DNS matching ${cfg.hostname}`,
      'If mail to others does not arrive, choose your mail provider’s sending server under Settings → Outgoing mail.',
    );
  }
  if (!cfg.outbound.smarthost.host)
    return check('smarthost', 'fail', 'no smarthost is configured: mail to addresses outside the family cannot leave', SET_SMARTHOST);
  // Sealed by the desktop app's keychain, which `postern serve` cannot open (docs/design.md §8.2).
  const sealed = sealedSecretNotice(cfg);
  if (sealed) return check('smarthost', 'warn', sealed, SEALED_PASSWORD_FIX);
  const timeoutMs = ctx.smtpTimeoutMs ?? 5000;
  try {
    const o = await within(attempt(ctx, timeoutMs), timeoutMs * 4, `the smarthost did not finish answering within ${(timeoutMs * 4) / 1000} s`);
    return check('smarthost', o.ok ? (o.warn ? 'warn' : 'ok') : 'fail', o.detail, o.fix);
  } catch (e) {
    return check(
      'smarthost',
      'fail',
      (e as Error).message,
      'Check the sending server and port under Settings → Outgoing mail, and that this computer can reach the Internet.',
    );
  }
}
