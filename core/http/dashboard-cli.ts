// `postern dashboard` (docs/design.md §8.1): prints the headless dashboard's address with
// its access token — the same link `postern serve` prints, kept in <data-dir>/dashboard-token
// (made here if it does not exist yet, so the next serve uses it).
import path from 'node:path';
import { parseCommand, UsageError } from '../cli/usage.ts';
import { loadConfigFile } from '../config/load.ts';
import { defaultConfigFile, defaultDataDir } from '../config/paths.ts';
import { dashboardLink, dashboardToken } from './token.ts';
import fs from 'node:fs';

const OPTIONS = { config: { type: 'string' }, 'data-dir': { type: 'string' } } as const;

export function dashboardCommand(args: string[], out: (l: string) => void = (l) => process.stdout.write(`${l}\n`)): number {
  const { values, positionals } = parseCommand(args, OPTIONS);
  if (positionals.length) throw new UsageError(`dashboard takes no arguments (got "${positionals[0]}")`);
  const configFile = path.resolve(values.config ?? defaultConfigFile());
  const { host, port } = fs.existsSync(configFile) ? loadConfigFile(configFile).dashboard : { host: '127.0.0.1', port: 8025 };
  out(dashboardLink(host, port, dashboardToken(path.resolve(values['data-dir'] ?? defaultDataDir()))));
  return 0;
}
