// What `npm start` opens (electron/launch.ts): the desktop app when there is a
// display and an Electron binary, else the headless gateway and dashboard
// (`postern serve`). Pure decisions, plus finding the binary the way the `electron`
// npm package does — without requiring it: electron 45's index.js downloads the
// binary on first require, which must never happen by surprise (or hang offline).
import path from 'node:path';

export type LaunchDecision = { mode: 'electron'; binary: string } | { mode: 'serve'; reason: string };

export interface LaunchFacts {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** The Electron executable, or null when it is not installed. */
  electronBinary: string | null;
}

/** Linux and the BSDs need an X11 or Wayland display; macOS and Windows always have one. */
export function hasDisplay(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): boolean {
  if (platform === 'darwin' || platform === 'win32') return true;
  return !!(env.DISPLAY || env.WAYLAND_DISPLAY);
}

export function decideLaunch(f: LaunchFacts): LaunchDecision {
  if (f.env.POSTERN_HEADLESS === '1') return { mode: 'serve', reason: 'POSTERN_HEADLESS=1 is set' };
  if (!hasDisplay(f.platform, f.env)) return { mode: 'serve', reason: 'no display here (DISPLAY and WAYLAND_DISPLAY are unset)' };
  if (!f.electronBinary) return { mode: 'serve', reason: 'the Electron binary is not installed and could not be fetched (try `npx install-electron`)' };
  return { mode: 'electron', binary: f.electronBinary };
}

/** Whether to try fetching the missing binary (only when it would be used, and not when told not to). */
export function shouldFetchElectron(f: LaunchFacts): boolean {
  return (
    !f.electronBinary && f.env.POSTERN_HEADLESS !== '1' && hasDisplay(f.platform, f.env) && !f.env.ELECTRON_SKIP_BINARY_DOWNLOAD && !f.env.POSTERN_NO_FETCH
  );
}

/** The executable's path inside the package's dist/ (electron/install.js getPlatformPath). */
export function platformPath(platform: NodeJS.Platform): string {
  if (platform === 'darwin') return 'Electron.app/Contents/MacOS/Electron';
  if (platform === 'win32') return 'electron.exe';
  return 'electron';
}

/**
 * The Electron executable the `electron` package would run, or null if it is not
 * there — what electron/index.js computes, minus its download. `read` returns a
 * file's text or null; `exists` says whether a path exists.
 */
export function findElectronBinary(
  pkgDir: string,
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv,
  io: { read(file: string): string | null; exists(file: string): boolean },
): string | null {
  const recorded = io.read(path.join(pkgDir, 'path.txt'))?.trim() || null;
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const p = path.join(env.ELECTRON_OVERRIDE_DIST_PATH, recorded ?? platformPath(platform));
    return io.exists(p) ? p : null;
  }
  if (!recorded) return null;
  const p = path.join(pkgDir, 'dist', recorded);
  return io.exists(p) ? p : null;
}

/** The one line printed when falling back. */
export function fallbackLine(reason: string): string {
  return `postern: not opening the desktop app: ${reason}; running \`postern serve\` (gateway + web dashboard) instead.`;
}
