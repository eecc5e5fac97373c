// Ports below 1024 without root (docs/design.md §8.4): the binary that actually runs
// Postern (the one a capability must be given to), the fallback port of each privileged
// listener port, and the fix texts that name them.
import fs from 'node:fs';

/**
 * The program that is running Postern, links resolved: `node_modules/node/bin/node`
 * under `postern serve`, the Electron binary in the desktop app. `which node` would
 * name the system's Node, which is not what runs (and a capability on it changes
 * nothing for Postern).
 */
export function runningBinary(execPath: string = process.execPath): string {
  try {
    return fs.realpathSync(execPath);
  } catch {
    return execPath;
  }
}

/** A path as one shell word (single quotes unless it needs none). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command that lets `binary` open ports below 1024 (Linux file capabilities). */
export function setcapCommand(binary: string): string {
  return `setcap cap_net_bind_service=+ep ${shellQuote(binary)}`;
}

/** Ports below this need privileges on Linux (net.ipv4.ip_unprivileged_port_start). */
export const FIRST_UNPRIVILEGED_PORT = 1024;

/**
 * The port a privileged listener port falls back to when it is refused (docs/design.md
 * §2, §8.2): 25 → 2525, 587 → 2587, 465 → 2465, any other P below 1024 → 2000 + P.
 * null for ports that need no privileges (0 and ≥ 1024).
 */
export function defaultFallbackPort(port: number): number | null {
  if (port <= 0 || port >= FIRST_UNPRIVILEGED_PORT) return null;
  return port === 25 ? 2525 : 2000 + port;
}
