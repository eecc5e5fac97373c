// `npm test`: the one command that sets a fresh Debian machine up and runs every test.
//
//  1. The tools the tests use (test/support/tools.ts) and the Unix test account for
//     saslauthd: installed or created when run as root; otherwise the exact
//     `apt-get install …` line is printed and the run stops with exit code 2.
//  2. Build, type-check, lint and format check (Biome: biome.jsonc).
//  3. node's test runner — inside a network namespace that has only loopback when
//     the machine allows it (root and unshare), so no test can reach another address.
//
// Arguments are passed to the test runner: `npm test -- test/unit/policy.test.ts`.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { missingLine, TOOLS, UNIX_PASSWORD, UNIX_USER } from './support/tools.ts';

const root = process.getuid?.() === 0;

function sh(cmd: string, args: string[], opts: SpawnSyncOptions = {}): number {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) {
    console.error(`${cmd}: ${r.error.message}`);
    return 127;
  }
  return r.status ?? 1;
}

function step(title: string, cmd: string, args: string[]): void {
  console.log(`\n── ${title}`);
  const code = sh(cmd, args);
  if (code !== 0) {
    console.error(`npm test: ${title} failed (exit ${code})`);
    process.exit(code);
  }
}

function installTools(): void {
  const missing = TOOLS.filter((t) => !t.present());
  if (!missing.length) return;
  const packages = [...new Set(missing.flatMap((t) => t.packages))];
  if (!root) {
    for (const t of missing) console.error(missingLine(t));
    console.error(
      `\nThe tests need these Debian packages. Install them (or run npm test as root, which does):\n  sudo apt-get install --no-install-recommends ${packages.join(' ')}`,
    );
    process.exit(2);
  }
  console.log(`── installing the test tools: ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Postfix only for smtp-sink: no system mail server is configured or started.
  sh('sh', ['-c', 'echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections']);
  sh('apt-get', ['update', '-qq'], { env });
  if (sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env }) !== 0) {
    console.error(`npm test: apt-get could not install ${packages.join(' ')}`);
    process.exit(2);
  }
  const still = TOOLS.filter((t) => !t.present());
  if (still.length) {
    for (const t of still) console.error(`${missingLine(t)} (still missing after the install)`);
    process.exit(2);
  }
}

function ensureTestAccount(): void {
  // saslauthd -a shadow reads /etc/shadow: those tests need root, and say so themselves.
  if (!root) return;
  if (spawnSync('id', [UNIX_USER], { stdio: 'ignore' }).status !== 0) sh('useradd', ['-M', '-s', '/usr/sbin/nologin', UNIX_USER]);
  sh('chpasswd', [], { input: `${UNIX_USER}:${UNIX_PASSWORD}\n`, stdio: ['pipe', 'inherit', 'inherit'] });
}

/** Can this process make a network namespace with loopback up? */
function loopbackOnlyAvailable(): boolean {
  if (!root || process.platform !== 'linux') return false;
  return spawnSync('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' }).status === 0;
}

installTools();
ensureTestAccount();
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
step('build', npm[0], [...npm.slice(1), 'run', 'build']);
step('type-check', npm[0], [...npm.slice(1), 'run', 'typecheck']);
step('lint and format (Biome)', npm[0], [...npm.slice(1), 'run', 'lint']);

const files = process.argv.slice(2).length ? process.argv.slice(2) : ['test/**/*.test.ts'];
const runner = [process.execPath, '--test', '--test-concurrency=2', '--test-timeout=300000', ...files];
if (loopbackOnlyAvailable()) {
  console.log('\n── tests, in a network namespace with only loopback (unshare -n)');
  // exec: the runner's own summary is the last thing printed, and its exit code is ours.
  const script = 'ip link set lo up && exec "$@"';
  process.exit(sh('unshare', ['-n', 'sh', '-c', script, 'sh', ...runner]));
}
console.log('\n── tests (no network namespace here: that needs root and unshare; tests still talk to loopback only)');
process.exit(sh(runner[0], runner.slice(1)));
