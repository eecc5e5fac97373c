// `postern` — the command line of docs/design.md §8.1. Bad input: every command throws
// a UsageError (core/cli/usage.ts) and run() prints it here, one line naming the problem
// on stderr, exit code 2, nothing changed.
import fs from 'node:fs';
import path from 'node:path';
import { asUsageError, parseCommand, USAGE_EXIT_CODE, UsageError } from './cli/usage.ts';
import { defaultConfigFile, defaultDataDir } from './config/paths.ts';

export { UsageError };

const USAGE = `usage:
  postern serve [--config FILE] [--data-dir DIR]
  postern user add NAME [--address ADDR]... [--config FILE]   (password: first line of stdin;
                                                               a new account needs an --address)
  postern user list [--config FILE]
  postern user remove NAME [--config FILE]
  postern spf DOMAIN [--mx] [--a] [--ip4 IP]... [--ip6 IP]... [--include D]... [--soft]
  postern spf --check DOMAIN [--ip IP] [--config FILE]
  postern dkim DOMAIN [--config FILE] [--data-dir DIR]
  postern doctor [--config FILE] [--data-dir DIR] [--json]
  postern dashboard [--config FILE] [--data-dir DIR]           (prints the dashboard's link)
  postern bans list [--data-dir DIR]
  postern bans lift ADDR [--data-dir DIR]
  postern service install [--user NAME] [--config FILE] [--data-dir DIR] [--print]
                                                              (as root: a systemd unit, started at boot)
  postern service status
  postern service uninstall`;

const common = { config: { type: 'string' }, 'data-dir': { type: 'string' } } as const;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve': {
      const { values, positionals } = parseCommand(rest, common);
      if (positionals.length) throw new UsageError(`serve takes no arguments (got "${positionals[0]}")`);
      const { serve } = await import('./serve.ts');
      await serve({ configFile: path.resolve(values.config ?? defaultConfigFile()), dataDir: path.resolve(values['data-dir'] ?? defaultDataDir()) });
      return 0;
    }
    case 'user': {
      const { userCommand } = await import('./accounts/cli.ts');
      return userCommand(rest);
    }
    case 'spf': {
      const { spfCommand } = await import('./spf/cli.ts');
      return spfCommand(rest);
    }
    case 'dkim': {
      const { dkimCommand } = await import('./dkim/cli.ts');
      return dkimCommand(rest);
    }
    case 'doctor': {
      const { doctorCommand } = await import('./doctor-cli.ts');
      return doctorCommand(rest);
    }
    case 'service': {
      const { serviceCommand } = await import('./service/systemd.ts');
      return serviceCommand(rest, fs.realpathSync(new URL('../bin/postern.js', import.meta.url)));
    }
    case 'dashboard': {
      const { dashboardCommand } = await import('./http/dashboard-cli.ts');
      return dashboardCommand(rest);
    }
    case 'bans': {
      const { bansCommand } = await import('./bans-cli.ts');
      return bansCommand(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return cmd === undefined ? USAGE_EXIT_CODE : 0;
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    const usage = asUsageError(e);
    if (usage) {
      console.error(`postern: ${usage.message}`);
      process.exitCode = usage.exitCode;
      return;
    }
    console.error(`postern: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  }
}

if (import.meta.main || process.argv[1] === fs.realpathSync(new URL(import.meta.url).pathname)) {
  await run(process.argv.slice(2));
}
