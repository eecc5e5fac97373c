// `postern dkim DOMAIN`: the DKIM record to publish for a family domain (the key is
// generated on first use, the same one outbound mail is signed with).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.ts';
import { normalizeDomain } from '../policy/address.ts';
import { defaultConfigFile, defaultDataDir } from '../paths.ts';
import { DkimKeys, dkimRecord, dkimZoneLine } from './keys.ts';

function usage(msg: string): never {
  const e = new Error(msg) as Error & { code: string };
  e.code = 'EUSER';
  throw e;
}

export async function dkimCommand(args: string[], out: (s: string) => void = (s) => console.log(s)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { config: { type: 'string' }, 'data-dir': { type: 'string' } } });
  } catch (e) {
    usage((e as Error).message.split('\n')[0]);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) usage('dkim needs exactly one DOMAIN');
  const cfg = loadConfigFile(path.resolve(values.config ?? defaultConfigFile()));
  const domain = normalizeDomain(positionals[0]);
  if (!cfg.domains.includes(domain)) usage(`"${positionals[0]}" is not one of your domains (${cfg.domains.join(', ') || 'none configured'})`);
  const key = new DkimKeys(path.resolve(values['data-dir'] ?? defaultDataDir())).get(domain, cfg.dkim.selector);
  out(`Publish this TXT record in the ${domain} zone (mail from ${domain} is signed with selector "${key.selector}"):`);
  out('');
  out(dkimZoneLine(key));
  out('');
  out(`(one string: ${dkimRecord(key)})`);
  return 0;
}
