// Types of the SPF record helper (docs/design.md §6), shared by core/spf/record.ts,
// `postern spf`, the GatewayApi and the dashboard.

export interface SpfChoices {
  domain: string;
  /** `mx`: the domain's MX hosts may send. */
  mx: boolean;
  /** `a`: the domain's A/AAAA hosts may send. */
  a: boolean;
  ip4: string[];
  ip6: string[];
  /** `include:` of the smarthost provider's record, e.g. `_spf.provider.example`. */
  include: string[];
  /** `~all` instead of `-all`. */
  soft: boolean;
}

export interface SpfProblem {
  /** Character offset in the record where the problem is (0-based), or null for the whole record. */
  position: number | null;
  message: string;
  severity: 'error' | 'warning';
}

export interface SpfBuildResult {
  record: string;
  /** The line to paste into the zone: `doe-family.com.          TXT "v=spf1 +mx -all"` */
  zoneLine: string;
  problems: SpfProblem[];
}

export interface SpfValidation {
  record: string;
  valid: boolean;
  problems: SpfProblem[];
  /** DNS-querying terms (include, a, mx, ptr, exists, redirect), counted against the limit of 10. */
  dnsTerms: number;
  /** Only when the record was evaluated against DNS: lookups that returned nothing (limit 2). */
  voidLookups: number | null;
}

export interface SpfEvaluation {
  ip: string;
  result: 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';
  explanation: string;
}

export interface SpfCheckResult {
  domain: string;
  /** Every TXT string set at the domain that starts with `v=spf1` (more than one is an error). */
  published: string[];
  validation: SpfValidation | null;
  /** Compared with the record Postern would build for this domain, when given. */
  expected: string | null;
  matchesExpected: boolean | null;
  evaluation: SpfEvaluation | null;
  error: string | null;
}

/** The SPF record helper as the GatewayApi and `postern spf` use it (core/spf/record.ts provides it). */
export interface SpfHelper {
  build(c: SpfChoices): SpfBuildResult;
  validate(record: string): SpfValidation;
  check(domain: string, opts: { ip?: string; expected?: SpfChoices }): Promise<SpfCheckResult>;
  defaults(domain: string, publicAddresses: string[], smarthostInclude?: string): SpfChoices;
}
