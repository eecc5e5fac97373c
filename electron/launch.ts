// `npm start`: one command that opens Postern. Builds what is missing (the
// renderer, if dist/renderer is absent; the Electron bundles, always — esbuild takes
// a second), then opens the desktop app with the Electron binary. Where there is no
// display, or no Electron binary (and it cannot be fetched), it prints ONE line
// saying so and runs `postern serve` with the same arguments, which prints the
// dashboard URL. See launcher.ts for the decisions.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildElectron } from './build.ts';
import { decideLaunch, fallbackLine, findElectronBinary, shouldFetchElectron, type LaunchFacts } from './launcher.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const electronPkg = path.join(root, 'node_modules', 'electron');
/** A fetch of the ~100 MB binary that takes longer than this is given up (offline, captive portal). */
const FETCH_TIMEOUT_MS = Number(process.env.POSTERN_ELECTRON_FETCH_TIMEOUT_MS ?? 120_000);
/** An Electron that dies this soon, with an error, did not start (sandbox helper, missing libraries). */
const EARLY_EXIT_MS = 5000;

const io = {
  read: (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return null;
    }
  },
  exists: (f: string) => fs.existsSync(f),
};

function facts(): LaunchFacts {
  return { platform: process.platform, env: process.env, electronBinary: findElectronBinary(electronPkg, process.platform, process.env, io) };
}

function fetchElectron(): void {
  // electron/install.js is what the package runs on first require; run it ourselves, bounded and quiet.
  spawnSync(process.execPath, [path.join(electronPkg, 'install.js')], { stdio: 'ignore', timeout: FETCH_TIMEOUT_MS, cwd: electronPkg });
}

/** POSTERN_LAUNCH_SKIP_BUILD=1: use what is in dist/ as it is (tests, packaged checkouts). */
const skipBuild = process.env.POSTERN_LAUNCH_SKIP_BUILD === '1';

function buildRendererIfMissing(): void {
  if (skipBuild || fs.existsSync(path.join(root, 'dist', 'renderer', 'index.html'))) return;
  const config = path.join(root, 'renderer', 'vite.config.ts');
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!fs.existsSync(config) || !fs.existsSync(vite)) return;
  const r = spawnSync(process.execPath, [vite, 'build', '--config', config, '--logLevel', 'error'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) console.error('postern: the dashboard page could not be built (npm run build:renderer shows why); continuing without it.');
}

function relay(child: ChildProcess): void {
  // Ctrl-C reaches the whole process group, the child included: wait for it to stop
  // gracefully rather than sending a second SIGINT (which would cut that short).
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
}

function serve(args: string[], reason: string): void {
  console.log(fallbackLine(reason));
  const child = spawn(process.execPath, [path.join(root, 'bin', 'postern.js'), 'serve', ...args], { stdio: 'inherit', cwd: root });
  relay(child);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

async function main(args: string[]): Promise<void> {
  let f = facts();
  if (shouldFetchElectron(f)) {
    fetchElectron();
    f = facts();
  }
  const decision = decideLaunch(f);
  buildRendererIfMissing();
  if (decision.mode === 'serve') return serve(args, decision.reason);

  if (!skipBuild) await buildElectron();
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE; // would make the binary a plain Node
  const started = Date.now();
  const child = spawn(decision.binary, [root, ...args], { stdio: 'inherit', env, cwd: root });
  relay(child);
  let fellBack = false;
  const fallBack = (reason: string) => {
    if (fellBack) return;
    fellBack = true;
    serve(args, reason);
  };
  child.on('error', (e) => fallBack(`the Electron binary could not be started (${e.message})`));
  child.on('exit', (code, signal) => {
    const failed = (code !== 0 && code !== null) || (signal !== null && signal !== 'SIGINT' && signal !== 'SIGTERM');
    if (failed && Date.now() - started < EARLY_EXIT_MS) return fallBack(`the desktop app exited at start (${signal ?? `code ${code}`})`);
    if (!fellBack) process.exit(code ?? 0);
  });
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`postern: ${(e as Error).message}`);
    process.exit(1);
  });
}
