// The event record of docs/design.md §4.1 (stable: extend, never rename or remove).

export type Stage = 'connect' | 'tls' | 'auth' | 'mail' | 'rcpt' | 'data' | 'queue' | 'delivery' | 'network' | 'system';
export type EventVerdict = 'accept' | 'reject' | 'defer' | 'info';

export const STAGES: readonly Stage[] = ['connect', 'tls', 'auth', 'mail', 'rcpt', 'data', 'queue', 'delivery', 'network', 'system'];
export const VERDICTS: readonly EventVerdict[] = ['accept', 'reject', 'defer', 'info'];

/**
 * Every rule an event can name (docs/design.md §4.2). Counters, notifications and
 * the dashboard's filters compare these, never the human-readable text.
 */
export const RULES = [
  // an SMTP session
  'connect',
  'client limits',
  'connection slots',
  'session limits',
  'directory harvest',
  'smtp parameters',
  'trusted proxies',
  'tls',
  'auth',
  'auth ban',
  'auth throttle',
  // inbound protection (docs/design.md §2.10–§2.13)
  'dnsbl',
  'rate limits',
  'dmarc',
  'rspamd',
  'greylist',
  'submission',
  'relay mail from',
  'relay rcpt',
  'from header',
  'check spf',
  'data',
  'header limits',
  'smtp protocol',
  'smtp error',
  // after the 250
  'disk',
  'outbound queue',
  'delivery',
  'dkim',
  'bounce',
  // the gateway itself
  'start',
  'stop',
  'listeners',
  'config',
  'internal networks',
  'setup check',
  'acme',
  'system',
  'internal error',
] as const;
export type Rule = (typeof RULES)[number];

export interface GatewayEvent {
  id: number;
  /** ISO 8601 */
  time: string;
  /** SMTP session id, or '' for events outside a session. */
  session: string;
  /** Client IP, or ''. */
  client: string;
  /** `mode:port` of the listener, or ''. */
  listener: string;
  stage: Stage;
  verdict: EventVerdict;
  rule: Rule;
  /** SMTP reply code sent, or 0 when no reply was involved. */
  code: number;
  text: string;
  from?: string;
  to?: string;
  user?: string;
  spf?: string;
  queueId?: string;
  /** Extension: a finer reason inside the rule (e.g. "unknown local user"). */
  reason?: string;
  /** Extension: the message's Subject (decoded), on the data-stage event (docs/design.md §4.1). */
  subject?: string;
}

export type EventInput = Omit<GatewayEvent, 'id' | 'time' | 'session' | 'client' | 'listener' | 'code' | 'text'> &
  Partial<Pick<GatewayEvent, 'session' | 'client' | 'listener' | 'code' | 'text'>>;
