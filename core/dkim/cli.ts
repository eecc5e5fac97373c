// `postern dkim DOMAIN`: the DKIM record to publish for a family domain (the key is
// generated on first use, the same one outbound mail is signed with).
import path from 'node:path';
import { parseCommand, UsageError } from '../cli/usage.ts';
import { loadConfigFile } from '../config/load.ts';
import { normalizeDomain } from '../policy/address.ts';
import { defaultConfigFile, defaultDataDir } from '../config/paths.ts';
import { DkimKeys, dkimRecord, dkimZoneLine } from './keys.ts';

export async function dkimCommand(args: string[], out: (s: string) => void = (s) => console.log(s)): Promise<number> {
  const { values, positionals } = parseCommand(args, { config: { type: 'string' }, 'data-dir': { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('dkim needs exactly one DOMAIN');
  const cfg = loadConfigFile(path.resolve(values.config ?? defaultConfigFile()));
  const domain = normalizeDomain(positionals[0]);
  if (!cfg.domains.includes(domain)) throw new UsageError(`"${positionals[0]}" is not one of your domains (${cfg.domains.join(', ') || 'none configured'})`);
  const key = new DkimKeys(path.resolve(values['data-dir'] ?? defaultDataDir())).get(domain, cfg.dkim.selector);
  out(`Publish this TXT record in the ${domain} zone (mail from ${domain} is signed with selector "${key.selector}"):`);
  out('');
  out(dkimZoneLine(key));
  out('');
  out(`(one string: ${dkimRecord(key)})`);
  return 0;
}
