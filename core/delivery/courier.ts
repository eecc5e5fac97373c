// The courier: what the outbound queue hands a message to (docs/design.md §3.3). The
// queue decides when to try and writes down what happened; a courier only delivers and
// says, per recipient, delivered / try again later / never. The real couriers speak
// SMTP through smtp-client.ts; tests give the queue a scripted one (no sockets).
import type { Config } from '../config/schema.ts';
import type { DnsClient } from '../dns/client.ts';
import { parseMailbox } from '../policy/address.ts';
import { ConnectError, planMx, sendOnce, smarthostTarget, type OutboundMessage, type RcptOutcome, type Target } from './smtp-client.ts';

export type { RcptOutcome, OutboundMessage } from './smtp-client.ts';

/** Where a batch of recipients goes: the smarthost, or one domain's MX hosts. */
export type Route = { kind: 'smarthost' } | { kind: 'mx'; domain: string };

/** Recipients that travel together: one delivery (at most one SMTP transaction). */
export interface Batch {
  route: Route;
  rcpts: string[];
}

export interface Courier {
  /**
   * Splits an attempt's recipients into batches. The queue records each batch's
   * outcomes before it starts the next, so a crash does not send a done batch again.
   */
  batches(rcpts: readonly string[]): Batch[];
  /**
   * Delivers one message to one batch: an outcome for every recipient of the batch.
   * `ok` = delivered; otherwise `permanent` = bounce it, else retry later. Trouble
   * reaching a server is a temporary outcome, never a throw; a route that leads back
   * to this gateway is a permanent `5.4.6` (retrying a loop cannot help).
   */
  deliver(batch: Batch, from: string, message: OutboundMessage): Promise<RcptOutcome[]>;
}

/** One batch per recipient domain, in the order the domains first appear. */
export function byDomain(rcpts: readonly string[]): Batch[] {
  const groups = new Map<string, string[]>();
  for (const a of rcpts) {
    const d = parseMailbox(a)?.domain ?? '';
    groups.set(d, [...(groups.get(d) ?? []), a]);
  }
  return [...groups].map(([domain, list]) => ({ route: { kind: 'mx', domain }, rcpts: list }));
}

export interface SmtpCourierOptions {
  config: () => Config;
  dns: () => DnsClient;
  /** True when ip:port is this very gateway (delivering there would loop). */
  isSelf?(ip: string, port: number): boolean;
}

const SEND_TIMEOUT_MS = 30_000;

const failAll = (rcpts: readonly string[], permanent: boolean, text: string): RcptOutcome[] =>
  rcpts.map((address) => ({ address, ok: false, permanent, text }));

/** Tries the targets in order until one answers for the recipients. */
async function viaTargets(targets: Target[], from: string, rcpts: string[], message: OutboundMessage, heloName: string): Promise<RcptOutcome[]> {
  const errors: string[] = [];
  for (const t of targets) {
    if (!t.host) {
      errors.push('no smarthost is configured (outbound.smarthost.host)');
      break;
    }
    try {
      return await sendOnce(t, from, rcpts, message, { heloName, timeoutMs: SEND_TIMEOUT_MS });
    } catch (e) {
      if (!(e instanceof ConnectError)) throw e;
      errors.push(e.message);
    }
  }
  return failAll(rcpts, false, `4.4.1 could not deliver: ${errors.join('; ') || 'no server to try'}`);
}

/** Everything through the configured smarthost, all recipients in one transaction. */
export class SmarthostCourier implements Courier {
  private readonly config: () => Config;

  constructor(config: () => Config) {
    this.config = config;
  }

  batches(rcpts: readonly string[]): Batch[] {
    return rcpts.length ? [{ route: { kind: 'smarthost' }, rcpts: [...rcpts] }] : [];
  }

  deliver(batch: Batch, from: string, message: OutboundMessage): Promise<RcptOutcome[]> {
    const cfg = this.config();
    return viaTargets([smarthostTarget(cfg)], from, batch.rcpts, message, cfg.hostname);
  }
}

/** Straight to each recipient domain's MX hosts, by preference, every address in turn. */
export class MxCourier implements Courier {
  private readonly o: SmtpCourierOptions;

  constructor(o: SmtpCourierOptions) {
    this.o = o;
  }

  batches(rcpts: readonly string[]): Batch[] {
    return byDomain(rcpts);
  }

  async deliver(batch: Batch, from: string, message: OutboundMessage): Promise<RcptOutcome[]> {
    if (batch.route.kind !== 'mx') throw new Error('the MX courier was handed a smarthost batch');
    const domain = batch.route.domain;
    const cfg = this.o.config();
    const plan = await planMx(domain, this.o.dns());
    if (!plan.ok) return failAll(batch.rcpts, plan.permanent, plan.text);
    const all: Target[] = plan.hosts.flatMap((h) =>
      h.addresses.map((ip) => ({ host: ip, servername: h.name, port: cfg.outbound.mxPort, secure: false, requireTLS: false, verifyTls: false })),
    );
    const targets = all.filter((t) => !this.o.isSelf?.(t.host, t.port));
    if (!targets.length) return failAll(batch.rcpts, true, `5.4.6 mail for ${domain} loops back to myself (its mail server is this Postern)`);
    return viaTargets(targets, from, batch.rcpts, message, cfg.hostname);
  }
}

/**
 * The courier the gateway uses: the route `outbound.mode` names when the attempt
 * starts. A batch keeps its route even if the mode changes during the attempt.
 */
export class SmtpCourier implements Courier {
  private readonly config: () => Config;
  private readonly smarthost: SmarthostCourier;
  private readonly mx: MxCourier;

  constructor(o: SmtpCourierOptions) {
    this.config = o.config;
    this.smarthost = new SmarthostCourier(o.config);
    this.mx = new MxCourier(o);
  }

  batches(rcpts: readonly string[]): Batch[] {
    return (this.config().outbound.mode === 'smarthost' ? this.smarthost : this.mx).batches(rcpts);
  }

  deliver(batch: Batch, from: string, message: OutboundMessage): Promise<RcptOutcome[]> {
    return (batch.route.kind === 'smarthost' ? this.smarthost : this.mx).deliver(batch, from, message);
  }
}
