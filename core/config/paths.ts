// Default locations, shared by `postern serve` and the desktop app so that both run
// the same gateway on the same files: Electron's userData folder for "Postern".
import os from 'node:os';
import path from 'node:path';

export function userDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.POSTERN_HOME) return env.POSTERN_HOME;
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'Postern');
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'Postern');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'Postern');
}

export function defaultConfigFile(): string {
  return path.join(userDataDir(), 'config.json');
}

export function defaultDataDir(): string {
  return path.join(userDataDir(), 'data');
}
