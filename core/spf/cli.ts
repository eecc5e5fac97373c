// `postern spf` (docs/design.md §8.1, §6):
//   postern spf DOMAIN [--mx] [--a] [--ip4 IP]... [--ip6 IP]... [--include D]... [--soft]
//     prints the record and the zone line to paste;
//   postern spf --check DOMAIN [--config FILE] [--ip IP] [build options]
//     validates the published record through the configured DNS: exit 0 if valid, 1 if not.
// Bad input: a UsageError (core/cli/usage.ts), which core/cli.ts turns into one line and exit 2.
import fs from 'node:fs';
import net from 'node:net';
import { asUsageError, parseCommand, UsageError } from '../cli/usage.ts';
import { loadConfigFile, validateConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { isValidDomain, normalizeDomain } from '../policy/address.ts';
import { defaultConfigFile } from '../config/paths.ts';
import type { SpfChoices, SpfProblem } from './record-types.ts';
import { MAX_DNS_TERMS } from './check.ts';
import { buildRecord, defaultChoices, spfHelperFor } from './record.ts';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

const STDIO: Output = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

const OPTIONS = {
  mx: { type: 'boolean' },
  a: { type: 'boolean' },
  ip4: { type: 'string', multiple: true },
  ip6: { type: 'string', multiple: true },
  include: { type: 'string', multiple: true },
  soft: { type: 'boolean' },
  check: { type: 'boolean' },
  config: { type: 'string' },
  ip: { type: 'string' },
} as const;

function loadConfig(file: string | undefined): Config {
  try {
    if (file) return loadConfigFile(file);
    const def = defaultConfigFile();
    return fs.existsSync(def) ? loadConfigFile(def) : validateConfig({});
  } catch (e) {
    throw asUsageError(e) ?? e;
  }
}

/** `  error at 19: …` and, under the record, a caret at the spot. */
function printProblems(record: string, problems: SpfProblem[], io: Output): void {
  for (const p of problems) {
    io.out(`  ${p.severity}${p.position !== null ? ` at character ${p.position + 1}` : ''}: ${p.message}`);
    if (p.position !== null) {
      io.out(`    ${record}`);
      io.out(`    ${' '.repeat(p.position)}^`);
    }
  }
}

export async function spfCommand(args: string[], io: Output = STDIO): Promise<number> {
  const { values, positionals } = parseCommand(args, OPTIONS);
  if (positionals.length !== 1)
    throw new UsageError(positionals.length ? `spf takes one DOMAIN (got ${positionals.map((p) => `"${p}"`).join(', ')})` : 'spf needs a DOMAIN');
  const domain = positionals[0];
  if (!isValidDomain(domain)) throw new UsageError(`"${domain}" is not a valid domain`);
  const flagged = !!(values.mx || values.a || values.soft || values.ip4?.length || values.ip6?.length || values.include?.length);
  const choices: SpfChoices = {
    domain,
    mx: !!values.mx,
    a: !!values.a,
    ip4: values.ip4 ?? [],
    ip6: values.ip6 ?? [],
    include: values.include ?? [],
    soft: !!values.soft,
  };
  const built = buildRecord(choices);
  const bad = built.problems.find((p) => p.severity === 'error');
  if (bad) throw new UsageError(bad.message);

  if (!values.check) {
    if (values.config !== undefined) throw new UsageError('--config is only used with --check');
    if (values.ip !== undefined) throw new UsageError('--ip is only used with --check');
    for (const p of built.problems) io.err(`warning: ${p.message}`);
    io.out(built.record);
    io.out(built.zoneLine);
    return 0;
  }

  if (values.ip !== undefined && !net.isIP(values.ip)) throw new UsageError(`--ip "${values.ip}" is not an IP address`);
  const cfg = loadConfig(values.config);
  // By default the check evaluates this host's public address (docs/design.md §6).
  const ip = values.ip ?? cfg.publicAddress ?? undefined;
  // Compared with the flags given, else with what Postern recommends for its own domains.
  const isOurs = cfg.domains.includes(normalizeDomain(domain));
  const expected = flagged ? choices : isOurs ? defaultChoices(domain, cfg.publicAddress ? [cfg.publicAddress] : []) : undefined;
  const r = await spfHelperFor(cfg).check(domain, { ...(ip ? { ip } : {}), ...(expected ? { expected } : {}) });
  if (r.error && !r.published.length) {
    io.out(`${r.domain}: ${r.error}`);
    return 1;
  }
  for (const rec of r.published) io.out(`${r.domain}: ${rec}`);
  const v = r.validation!;
  const lookups = `${v.dnsTerms} of ${MAX_DNS_TERMS} DNS-lookup terms${v.voidLookups !== null ? `, ${v.voidLookups} void lookups` : ''}`;
  io.out(`  ${v.valid ? 'valid' : 'NOT valid'} (${lookups})`);
  printProblems(v.record, v.problems, io);
  if (r.expected !== null) {
    io.out(r.matchesExpected ? `  matches the expected record: ${r.expected}` : `  differs from the expected record: ${r.expected}`);
  }
  if (r.evaluation) io.out(`  ${r.evaluation.ip}: ${r.evaluation.result} (${r.evaluation.explanation})`);
  return v.valid ? 0 : 1;
}
