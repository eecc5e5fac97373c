// The desktop app's one-time authorisation for ports below 1024 (docs/design.md §7.3, §8.4):
// when the gateway had to fall back (25 → 2525, …) because the system refused a port,
// offer to give the Electron binary the one capability it lacks, through polkit
// (`pkexec setcap cap_net_bind_service=+ep <binary>`). Pure: what to offer, the
// command, and what to say afterwards; electron/main.ts shows the dialog and runs it.
import type { GatewayStatus } from '../core/gateway.ts';
import { setcapCommand } from '../core/service/ports.ts';

export interface PortPermissionOffer {
  /** The ports refused (configured ports now served on their fallback, or not at all). */
  ports: number[];
  /** The program to run and its arguments (no shell). */
  command: string[];
  title: string;
  message: string;
  detail: string;
  buttons: [string, string];
}

/** Ports refused for lack of privileges: on their fallback port now, or failed with EACCES/EPERM. */
export function refusedPorts(s: GatewayStatus | null): number[] {
  if (!s) return [];
  const ports = s.listeners.filter((l) => l.fallbackFrom || (!l.ok && (l.code === 'EACCES' || l.code === 'EPERM'))).map((l) => l.fallbackFrom ?? l.port);
  return [...new Set(ports)];
}

/**
 * The offer to show, or null: only on Linux (file capabilities), only when a port was
 * refused, and once per problem (`asked` holds the ports already offered this run).
 * `binary` is the real path of the running Electron binary (core/service/ports.ts).
 */
export function portPermissionOffer(
  s: GatewayStatus | null,
  platform: string,
  binary: string,
  asked: ReadonlySet<number> = new Set(),
): PortPermissionOffer | null {
  if (platform !== 'linux') return null;
  const ports = refusedPorts(s);
  if (!ports.length || ports.every((p) => asked.has(p))) return null;
  const fallback = s!.listeners.filter((l) => l.fallbackFrom).map((l) => `${l.boundPort} instead of ${l.fallbackFrom}`);
  const list = ports.join(', ');
  return {
    ports,
    // absolute: pkexec runs it with a clean environment (a desktop PATH may lack /usr/sbin)
    command: ['pkexec', '/usr/sbin/setcap', 'cap_net_bind_service=+ep', binary],
    title: 'Allow Postern to use the mail ports',
    message: `Linux lets only administrators open ports below 1024, so Postern could not open port${ports.length > 1 ? 's' : ''} ${list}.`,
    detail:
      (fallback.length
        ? `Meanwhile Postern listens on ${fallback.join(', ')}; mail from the Internet arrives only if your router forwards the real port there.\n\n`
        : '') +
      `Postern can ask for your password once and then give this one program — ${binary} — the right to open ports below 1024 (the capability cap_net_bind_service, nothing else; it does not run as administrator). ` +
      'Postern then restarts and listens on the real ports. Updating the app undoes it, and Postern will ask again.',
    buttons: ['Allow…', 'Not now'],
  };
}

/** What to say after pkexec ended (exit code; 126/127: dismissed or not authorised). */
export function permissionOutcome(code: number | null, stderr: string, binary: string): { ok: boolean; title: string; body: string } {
  if (code === 0) return { ok: true, title: 'Ports allowed', body: 'Postern restarts now and listens on the real mail ports.' };
  if (code === 126 || code === 127)
    return { ok: false, title: 'Ports not allowed', body: 'The authorisation was cancelled or refused; Postern keeps listening on the fallback ports.' };
  return {
    ok: false,
    title: 'Ports not allowed',
    body: `setcap failed${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}. Run it yourself: sudo ${setcapCommand(binary)} (an AppImage's binary cannot be changed: install the .deb, or run \`postern service install\`).`,
  };
}
