// "Start at login" (docs/design.md §7.3): brings Postern back after a reboot, gateway
// running, window hidden (the `--autostart` argument).
//   - macOS and Windows: app.setLoginItemSettings (Electron has no Linux support).
//   - Linux: an XDG autostart entry, $XDG_CONFIG_HOME/autostart/postern.desktop
//     (~/.config/autostart by default), pointing at $APPIMAGE for an AppImage (the
//     executable inside it lives on a mount that changes every run), else at the
//     executable (plus the app folder when run unpackaged, `electron .`).
// Pure functions for the file and its path, and a small fs wrapper.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const AUTOSTART_ARG = '--autostart';
export const DESKTOP_FILE = 'postern.desktop';

export interface LaunchFacts {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** process.execPath */
  execPath: string;
  isPackaged: boolean;
  /** app.getAppPath(): what `electron <dir>` needs when unpackaged. */
  appPath: string;
  home?: string;
}

/** The command a login should run. */
export function autostartCommand(f: LaunchFacts): { exec: string; args: string[] } {
  if (f.platform === 'linux' && f.env.APPIMAGE) return { exec: f.env.APPIMAGE, args: [AUTOSTART_ARG] };
  return { exec: f.execPath, args: f.isPackaged ? [AUTOSTART_ARG] : [f.appPath, AUTOSTART_ARG] };
}

export function autostartPath(env: NodeJS.ProcessEnv, home = os.homedir()): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  return path.join(base, 'autostart', DESKTOP_FILE);
}

/**
 * One argument of an Exec key (Desktop Entry Specification, "The Exec key"): quoted
 * when it holds a reserved character, with `"`, `` ` ``, `$` and `\` escaped inside
 * the quotes, `%` doubled; then the string-value escaping applies to the whole value,
 * so each backslash is written twice.
 */
export function execArg(arg: string): string {
  let a = arg.replace(/%/g, '%%');
  if (/[\s"'\\><~|&;$*?#()`]/.test(a) || a === '') a = `"${a.replace(/(["`$\\])/g, '\\$1')}"`;
  return a.replace(/\\/g, '\\\\');
}

/** A string value of a desktop entry: no line breaks. */
function value(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}

export function desktopEntry(cmd: { exec: string; args: string[] }, icon?: string): string {
  const lines = [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    'Name=Postern',
    'Comment=Personal mail gateway for the family',
    `Exec=${[cmd.exec, ...cmd.args].map(execArg).join(' ')}`,
    ...(icon ? [`Icon=${value(icon)}`] : []),
    'Terminal=false',
    'Categories=Network;Email;',
    'X-GNOME-Autostart-enabled=true',
    'X-Postern-Autostart=1',
  ];
  return `${lines.join('\n')}\n`;
}

/** Whether a desktop file turns autostart on (ours, not Hidden, not disabled). */
export function entryEnabled(text: string): boolean {
  if (!/^\[Desktop Entry\]/m.test(text)) return false;
  if (/^Hidden\s*=\s*true\s*$/im.test(text)) return false;
  if (/^X-GNOME-Autostart-enabled\s*=\s*false\s*$/im.test(text)) return false;
  return /^Exec\s*=/m.test(text);
}

/** The XDG autostart entry on disk. */
export class XdgAutostart {
  readonly file: string;
  private readonly cmd: { exec: string; args: string[] };
  private readonly icon: string | undefined;

  constructor(file: string, cmd: { exec: string; args: string[] }, icon?: string) {
    this.file = file;
    this.cmd = cmd;
    this.icon = icon;
  }

  isEnabled(): boolean {
    try {
      return entryEnabled(fs.readFileSync(this.file, 'utf8'));
    } catch {
      return false;
    }
  }

  set(enabled: boolean): void {
    if (!enabled) {
      fs.rmSync(this.file, { force: true });
      return;
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, desktopEntry(this.cmd, this.icon), { mode: 0o644 });
    fs.renameSync(tmp, this.file);
  }

  /** Rewrites an enabled entry whose command is stale (the AppImage moved, a new version). */
  refresh(): void {
    if (!this.isEnabled()) return;
    if (fs.readFileSync(this.file, 'utf8') !== desktopEntry(this.cmd, this.icon)) this.set(true);
  }
}

/** The parts of Electron's `app` the login item needs (macOS, Windows). */
export interface LoginItemApp {
  getLoginItemSettings(o?: { args?: string[] }): { openAtLogin: boolean };
  setLoginItemSettings(o: { openAtLogin: boolean; args?: string[] }): void;
}

export interface Autostart {
  isEnabled(): boolean;
  set(enabled: boolean): void;
}

/** The platform's way: the XDG entry on Linux, the login item elsewhere. */
export function createAutostart(f: LaunchFacts, app: LoginItemApp, icon?: string): Autostart {
  if (f.platform === 'linux') {
    const x = new XdgAutostart(autostartPath(f.env, f.home), autostartCommand(f), icon);
    x.refresh();
    return x;
  }
  // Windows compares path and args: ask with the same args that were set.
  const args = f.platform === 'win32' ? [AUTOSTART_ARG] : undefined;
  return {
    isEnabled: () => app.getLoginItemSettings(args ? { args } : undefined).openAtLogin,
    set: (enabled) => app.setLoginItemSettings({ openAtLogin: enabled, ...(args ? { args } : {}) }),
  };
}

/** Whether this run was started by the login item (then the window stays hidden). */
export function startedAtLogin(argv: string[], macOpenedAtLogin = false): boolean {
  return argv.includes(AUTOSTART_ARG) || macOpenedAtLogin;
}
