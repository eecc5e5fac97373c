// The open-relay self-test (docs/design.md §5): Postern asks itself, as an Internet client,
// to relay, and must be refused. The client reaches a self-test listener with the
// config's policy (Gateway.startSelfTestListener) through a PROXY header naming
// 192.0.2.77 (TEST-NET-1, an Internet address), so the policy sees an Internet client
// even though the test runs on loopback. It tries a plain foreign recipient, the 16
// tricks of nmap's smtp-open-relay script, and a forged local sender. Anything
// accepted fails the check, loudly, with each accepted attempt listed.
import net from 'node:net';
import type { DoctorCheck } from './types.ts';
import { NetworkSet } from '../net/cidr.ts';
import { check, within, type DoctorContext, type SelfTestListener } from './common.ts';

/** RFC 5737 TEST-NET-1: an Internet address (no internal network should contain it). */
export const SELF_TEST_CLIENT = '192.0.2.77';

interface Reply {
  code: number;
  text: string;
}

/** A minimal SMTP client: one command, one (possibly multi-line) reply, bounded in time. */
class Probe {
  private buf = '';
  private closed = false;
  private wake: (() => void) | null = null;
  private readonly socket: net.Socket;
  private readonly timeoutMs: number;

  private constructor(socket: net.Socket, timeoutMs: number) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake?.();
    });
    const end = () => {
      this.closed = true;
      this.wake?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  static connect(port: number, timeoutMs: number): Promise<Probe> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`could not connect to the self-test listener within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(new Probe(s, timeoutMs));
      });
    });
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  write(line: string): void {
    this.socket.write(`${line}\r\n`, 'latin1');
  }

  async read(): Promise<Reply> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*(\d{3})(?: [^\r\n]*)?\r\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        const lines = m[0].split('\r\n').filter(Boolean);
        return { code: Number(m[1]), text: lines.map((l) => l.slice(4)).join(' / ') };
      }
      if (this.closed) return { code: 0, text: 'connection closed' };
      const left = deadline - Date.now();
      if (left <= 0) return { code: 0, text: `no reply within ${this.timeoutMs} ms` };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  async cmd(line: string): Promise<Reply> {
    this.write(line);
    return this.read();
  }

  close(): void {
    if (!this.closed) this.write('QUIT');
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 200).unref();
  }
}

export interface Attempt {
  from: string;
  to: string;
  /** A forged local sender: accepting MAIL FROM alone is a failure. */
  spoof: boolean;
}

/**
 * The attempts for a config: a plain foreign recipient, nmap's 16, a forged local
 * sender. `ours`: `domain` is one of the family's domains (without any, the host name
 * stands in, and a sender there is nobody's to forge: only relaying counts then).
 */
export function relayAttempts(domain: string, ours = true): Attempt[] {
  const IP = '[127.0.0.1]';
  const R = 'relaytest@example.net';
  const nmap: [string, string][] = [
    ['', R],
    ['antispam@example.org', R],
    [`antispam@${domain}`, R],
    [`antispam@${IP}`, R],
    [`antispam@${IP}`, `relaytest%example.net@${IP}`],
    [`antispam@${IP}`, `relaytest%example.net@${domain}`],
    [`antispam@${IP}`, `"${R}"`],
    [`antispam@${IP}`, '"relaytest%example.net"'],
    [`antispam@${IP}`, `${R}@${IP}`],
    [`antispam@${IP}`, `"${R}"@${IP}`],
    [`antispam@${IP}`, `${R}@${domain}`],
    [`antispam@${IP}`, `@${IP}:${R}`],
    [`antispam@${IP}`, `@${domain}:${R}`],
    [`antispam@${IP}`, 'example.net!relaytest'],
    [`antispam@${IP}`, `example.net!relaytest@${IP}`],
    [`antispam@${IP}`, `example.net!relaytest@${domain}`],
  ];
  const local = (a: string) => ours && a.toLowerCase().endsWith(`@${domain.toLowerCase()}`);
  return [
    { from: 'someone@example.org', to: 'someone-else@example.net', spoof: false },
    ...nmap.map(([from, to]) => ({ from, to, spoof: local(from) })),
    { from: `postmaster@${domain}`, to: 'someone-else@example.net', spoof: ours },
  ];
}

interface Outcome {
  attempt: Attempt;
  mail: Reply;
  rcpt: Reply | null;
}

const show = (o: Outcome) =>
  `MAIL FROM:<${o.attempt.from}> RCPT TO:<${o.attempt.to}> → ${o.rcpt && o.mail.code < 300 ? `${o.rcpt.code} ${o.rcpt.text}` : `${o.mail.code} ${o.mail.text}`}`;

async function converse(port: number, domain: string, ours: boolean, timeoutMs: number): Promise<{ outcomes: Outcome[]; problem: string | null }> {
  const c = await Probe.connect(port, timeoutMs);
  const outcomes: Outcome[] = [];
  try {
    c.write(`PROXY TCP4 ${SELF_TEST_CLIENT} 127.0.0.1 ${c.localPort || 40000} ${port}`);
    const greeting = await c.read();
    if (greeting.code !== 220) return { outcomes, problem: `the self-test listener greeted with "${greeting.code} ${greeting.text}"` };
    const ehlo = await c.cmd('EHLO relay-self-test.example.org');
    if (ehlo.code !== 250) return { outcomes, problem: `EHLO got "${ehlo.code} ${ehlo.text}"` };
    for (const attempt of relayAttempts(domain, ours)) {
      const mail = await c.cmd(`MAIL FROM:<${attempt.from}>`);
      const rcpt = mail.code >= 200 && mail.code < 300 ? await c.cmd(`RCPT TO:<${attempt.to}>`) : null;
      outcomes.push({ attempt, mail, rcpt });
      if (mail.code === 0 || rcpt?.code === 0) return { outcomes, problem: `the session ended early (${(rcpt ?? mail).text})` };
      await c.cmd('RSET');
    }
    return { outcomes, problem: null };
  } finally {
    c.close();
  }
}

export async function relaySelfTestCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  if (!ctx.relaySelfTest)
    return check('relay-self-test', 'warn', 'the self-test was not run here', 'Run `postern doctor`, or open the Setup page of the dashboard.');
  const cfg = ctx.config;
  const domain = cfg.domains[0] ?? cfg.hostname;
  const timeoutMs = ctx.smtpTimeoutMs ?? 5000;
  let listener: SelfTestListener;
  try {
    listener = await ctx.relaySelfTest();
  } catch (e) {
    return check(
      'relay-self-test',
      'warn',
      `the self-test listener could not start: ${(e as Error).message}`,
      'Run the check again; if it keeps failing, report it.',
    );
  }
  let result: { outcomes: Outcome[]; problem: string | null };
  try {
    result = await within(
      converse(listener.port, domain, cfg.domains.length > 0, timeoutMs),
      timeoutMs * 6,
      `the self-test did not finish within ${(timeoutMs * 6) / 1000} s`,
    );
  } catch (e) {
    return check('relay-self-test', 'warn', `the self-test could not run: ${(e as Error).message}`, 'Run the check again; if it keeps failing, report it.');
  } finally {
    await listener.close();
  }
  const { outcomes, problem } = result;
  const accepted = outcomes.filter(
    (o) => (o.rcpt !== null && o.rcpt.code >= 200 && o.rcpt.code < 300) || (o.attempt.spoof && o.mail.code >= 200 && o.mail.code < 300),
  );
  if (accepted.length) {
    const trusting = cfg.internalNetworks.filter((n) => n.enabled && new NetworkSet([n.cidr]).has(SELF_TEST_CLIENT));
    return check(
      'relay-self-test',
      'fail',
      `OPEN RELAY: Postern accepted ${accepted.length} of ${outcomes.length} relay attempts from the Internet address ${SELF_TEST_CLIENT}: ${accepted.map(show).join('; ')}`,
      trusting.length
        ? `Turn off ${trusting.map((n) => n.cidr).join(' and ')} in Internal networks now: ${trusting.length > 1 ? 'they make' : 'it makes'} every Internet address internal.`
        : 'Stop forwarding port 25 to Postern until this is fixed, and report it as a bug.',
    );
  }
  const inconclusive = outcomes.filter((o) => (o.rcpt ?? o.mail).code < 500);
  if (problem || inconclusive.length) {
    return check(
      'relay-self-test',
      'warn',
      `the self-test did not complete: ${problem ?? inconclusive.map(show).join('; ')}${outcomes.length ? ` (${outcomes.length} attempts made, none accepted)` : ''}`,
      'Run the check again; if it keeps failing, report it.',
    );
  }
  const codes = [...new Set(outcomes.map((o) => (o.rcpt ?? o.mail).code))].join('/');
  return check(
    'relay-self-test',
    'ok',
    `all ${outcomes.length} relay attempts from the Internet address ${SELF_TEST_CLIENT} were refused (${codes}): a foreign recipient, nmap's 16 open-relay tricks, ${cfg.domains.length ? `a forged ${domain} sender` : `a ${domain} sender`}`,
  );
}
