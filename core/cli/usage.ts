// Bad input on the command line (docs/design.md §8.1): every `postern` command signals
// it with UsageError, and core/cli.ts prints it as one line on stderr and exits 2,
// having changed nothing. `code` stays 'EUSER' so callers that only look at the code
// (tests, scripts importing a command) keep working.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/load.ts';

/** The exit code of bad input. */
export const USAGE_EXIT_CODE = 2;

export class UsageError extends Error {
  readonly code = 'EUSER';
  readonly exitCode = USAGE_EXIT_CODE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The usage error an exception stands for, or null if it is a fault. A config file
 * that does not load is bad input too: it names the file's problems.
 */
export function asUsageError(e: unknown): UsageError | null {
  if (e instanceof UsageError) return e;
  if (e instanceof ConfigError) return new UsageError(e.message);
  return null;
}

/** parseArgs, strict, positionals allowed; an unknown or malformed option is a UsageError. */
export function parseCommand<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
}
