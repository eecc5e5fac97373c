// `postern doctor [--config FILE] [--data-dir DIR] [--json]` (docs/design.md §8.1): the setup
// check of §5 from the command line, while `postern serve` may be running elsewhere.
// Human output: one line per check (✓ ok, ! warn, ✗ fail) with what was found and the
// fix. With --json exactly one object `{ "checks": [ { id, status, title, detail, fix } ] }`.
// Exit code 0 when nothing fails, 1 otherwise; bad input: a UsageError (core/cli/usage.ts;
// core/cli.ts prints one line and exits 2).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { asUsageError, parseCommand, UsageError } from './cli/usage.ts';
import { loadConfigFile, validateConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { FileConfigStore, MemoryConfigStore, type ConfigStore } from './config/store.ts';
import { dnsClientFor } from './dns/client.ts';
import { Gateway } from './gateway.ts';
import { defaultConfigFile, defaultDataDir } from './config/paths.ts';
import type { DoctorReport } from './doctor/types.ts';
import { passed, runDoctor, type DoctorContext } from './doctor/checks.ts';

export interface Output {
  out(text: string): void;
}

const STDOUT: Output = { out: (t) => process.stdout.write(`${t}\n`) };

const OPTIONS = { config: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } } as const;

function load(file: string | undefined): { cfg: Config; store: ConfigStore } {
  try {
    if (file) {
      const cfg = loadConfigFile(path.resolve(file));
      return { cfg, store: new FileConfigStore(path.resolve(file)) };
    }
    const def = defaultConfigFile();
    if (fs.existsSync(def)) return { cfg: loadConfigFile(def), store: new FileConfigStore(def) };
    return { cfg: validateConfig({}), store: new MemoryConfigStore({}) };
  } catch (e) {
    throw asUsageError(e) ?? e;
  }
}

const MARK = { ok: '✓', warn: '!', fail: '✗' } as const;

export function formatReport(report: DoctorReport, hostname: string): string[] {
  const lines = [`Postern setup check for ${hostname}`, ''];
  for (const c of report.checks) {
    lines.push(`${MARK[c.status]} ${c.title}: ${c.detail}`);
    if (c.fix) lines.push(`    fix: ${c.fix}`);
  }
  const fails = report.checks.filter((c) => c.status === 'fail').length;
  const warns = report.checks.filter((c) => c.status === 'warn').length;
  lines.push(
    '',
    fails ? `${fails} problem(s) to fix${warns ? `, ${warns} warning(s)` : ''}.` : warns ? `Nothing broken; ${warns} warning(s).` : 'Everything looks right.',
  );
  return lines;
}

/** Extra context for tests (trusted test CAs, fake interfaces); the command line never sets it. */
export async function doctorCommand(args: string[], io: Output = STDOUT, extra: Partial<DoctorContext> = {}): Promise<number> {
  const { values, positionals } = parseCommand(args, OPTIONS);
  if (positionals.length) throw new UsageError(`doctor takes no arguments (got "${positionals[0]}")`);
  const { cfg, store } = load(values.config);
  const dataDir = path.resolve(values['data-dir'] ?? defaultDataDir());
  // The relay self-test runs the config's policy in a gateway of its own that never
  // starts its listeners; its data dir is a throwaway (nothing is received there).
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-doctor-'));
  try {
    const selfTest = new Gateway({ store, dataDir: scratch });
    const report = await runDoctor({
      config: cfg,
      dataDir,
      dns: dnsClientFor(cfg),
      relaySelfTest: () => selfTest.startSelfTestListener(),
      ...extra,
    });
    if (values.json)
      io.out(JSON.stringify({ checks: report.checks.map(({ id, status, title, detail, fix }) => ({ id, status, title, detail, fix })) }, null, 2));
    else for (const l of formatReport(report, cfg.hostname)) io.out(l);
    return passed(report) ? 0 : 1;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
