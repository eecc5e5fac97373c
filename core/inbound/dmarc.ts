// DMARC enforcement for Internet mail (docs/design.md §2.10). The DMARC result itself is
// evaluated with DKIM in a worker thread (core/spf/authres.ts `messageAuth`); what comes
// back is `DmarcVerdict`, plain data. Here, pure: what to do with it.
//
// RFC 7489 §6.6.4: `pct=` is the share of failing messages the policy applies to; a
// message outside the sample gets the next policy down (reject → quarantine,
// quarantine → none). The draw is `random()` in [0, 1): pct=0 never applies, 100 always.
// `sp=` (the policy for subdomains) and `t=y` (testing) are already folded into `policy`
// by mailauth's evaluation (RFC 7489 §6.6.3 step 3; RFC 9989 §4.10.1).

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

/** The DMARC outcome of one message, as data (structured-clone safe: it crosses from the worker). */
export interface DmarcVerdict {
  /** pass, fail, none, temperror, permerror, neutral. */
  result: string;
  /** The From (author) domain. */
  domain: string;
  /** The policy that applies to `domain`: `p=`, or `sp=` when the record was found at the organizational domain. */
  policy: DmarcPolicy | null;
  p: DmarcPolicy | null;
  sp: DmarcPolicy | null;
  /** `pct=` of the applied record, 0–100 (absent: 100). */
  pct: number;
  /** The domain the record was published at. */
  policyDomain: string;
  /** `t=y`: mailauth has already lowered `policy` one step. */
  testMode: boolean;
}

export type DmarcAction = 'reject' | 'quarantine' | 'none';

export interface DmarcDecision {
  action: DmarcAction;
  /** A line for the event's reason and the stored header. */
  reason: string;
  /** The policy that the record asked for (before pct sampling). */
  policy: DmarcPolicy | null;
  /** False when pct sampling lowered the policy. */
  sampled: boolean;
}

const LOWER: Record<DmarcPolicy, DmarcPolicy> = { reject: 'quarantine', quarantine: 'none', none: 'none' };

const POLICIES = new Set(['none', 'quarantine', 'reject']);

/** Normalises what mailauth's `evaluateDmarc` answered (its response object) into a verdict; null when there was none. */
export function dmarcVerdictOf(response: unknown, record?: Record<string, unknown> | null): DmarcVerdict | null {
  if (!response || typeof response !== 'object') return null;
  const r = response as {
    status?: { result?: string; header?: { from?: string } };
    policy?: string;
    p?: string;
    sp?: string;
    policyDomain?: string;
    testMode?: boolean;
    domain?: string;
  };
  const pol = (v: unknown): DmarcPolicy | null => (typeof v === 'string' && POLICIES.has(v) ? (v as DmarcPolicy) : null);
  const rawPct = record && typeof record.pct === 'number' ? record.pct : record && record.pct !== undefined ? Number(record.pct) : 100;
  const pct = Number.isFinite(rawPct) ? Math.max(0, Math.min(100, Math.trunc(rawPct))) : 100;
  return {
    result: r.status?.result ?? 'none',
    domain: r.status?.header?.from ?? r.domain ?? '',
    policy: pol(r.policy),
    p: pol(r.p),
    sp: pol(r.sp),
    pct,
    policyDomain: r.policyDomain ?? '',
    testMode: !!r.testMode,
  };
}

/**
 * What a DMARC verdict means for the message (docs/design.md §2.10): only a `fail` under
 * `p=reject` / `p=quarantine` (or `sp=` for a subdomain) does anything; `enforce: false`
 * reports only. `random` is the pct draw in [0, 1).
 */
export function dmarcAction(v: DmarcVerdict | null, opts: { enforce: boolean; random?: () => number }): DmarcDecision {
  if (!v) return { action: 'none', reason: 'DMARC not evaluated', policy: null, sampled: true };
  const what = `dmarc=${v.result}${v.domain ? ` for ${v.domain}` : ''}`;
  if (v.result !== 'fail' || !v.policy) return { action: 'none', reason: what, policy: v.policy, sampled: true };
  const asked = v.policy;
  const tags = `p=${v.p ?? asked}${v.sp && v.sp !== v.p ? ` sp=${v.sp}` : ''}${v.pct < 100 ? ` pct=${v.pct}` : ''}`;
  let policy: DmarcPolicy = asked;
  let sampled = true;
  if (v.pct < 100) {
    const draw = (opts.random ?? Math.random)();
    if (!(draw * 100 < v.pct)) {
      policy = LOWER[asked];
      sampled = false;
    }
  }
  const how = `${what}, policy ${asked} (${tags})${sampled ? '' : `, outside the ${v.pct}% sample: ${policy}`}`;
  if (!opts.enforce) return { action: 'none', reason: `${how}; report only (dmarc.enforce is false)`, policy: asked, sampled };
  return { action: policy, reason: how, policy: asked, sampled };
}

/** The refusal at the end of DATA for `action: 'reject'` (names the policy). */
export function dmarcRefusalText(v: DmarcVerdict): string {
  return `5.7.1 Message rejected by the DMARC policy of ${v.domain || "the sender's domain"} (p=${v.policy ?? 'reject'}): it fails DMARC authentication`;
}

/** The header a quarantined message carries into the Junk folder. */
export function dmarcQuarantineHeader(hostname: string, d: DmarcDecision): string {
  return `X-Postern-Quarantine: ${hostname}; ${d.reason.replace(/[\r\n]+/g, ' ')}\r\n`;
}
