// `postern service install|status|uninstall` (docs/design.md §8.1, §8.4): Postern as a
// systemd service, running at boot as a user of its own, allowed to open ports below
// 1024 (AmbientCapabilities=CAP_NET_BIND_SERVICE) and nothing else — no root, no file
// capability on a shared binary. The unit text is a pure function (unitText); the rest
// runs a handful of commands through an injectable runner, so tests see each step.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseCommand, UsageError } from '../cli/usage.ts';
import { writeConfigFile } from '../config/load.ts';
import { runningBinary } from './ports.ts';

export const UNIT_NAME = 'postern.service';
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
export const DEFAULT_USER = 'postern';
/** Where a system service keeps its files (FHS): the config in /etc, the mail in /var/lib. */
export const SERVICE_CONFIG = '/etc/postern/config.json';
export const SERVICE_DATA_DIR = '/var/lib/postern';

export interface UnitOptions {
  /** The Node ≥ 24 binary, real path. */
  node: string;
  /** bin/postern.js, real path. */
  script: string;
  configFile: string;
  dataDir: string;
  user: string;
}

/** Home directories: systemd's ProtectHome= hides them. */
const HOME_DIRS = ['/home', '/root', '/run/user'];
const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/**
 * ProtectHome=yes hides /home, /root and /run/user entirely; when Postern itself, its
 * config or its data lives there, read-only keeps them visible (ReadWritePaths= then
 * makes the config and data dirs writable again).
 */
export function protectHome(paths: string[]): 'yes' | 'read-only' {
  return paths.some((p) => HOME_DIRS.some((h) => under(p, h))) ? 'read-only' : 'yes';
}

/** A value for a unit's ExecStart= word: systemd's quoting (double quotes, backslash escapes). */
export function unitWord(s: string): string {
  if (/^[A-Za-z0-9_./@+=:,-]+$/.test(s)) return s;
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`;
}

/** A path in ReadWritePaths= and similar lists: spaces must be quoted, `%` doubled. */
function unitPath(s: string): string {
  return /[\s"\\%]/.test(s) ? unitWord(s) : s;
}

/** The unit file (docs/design.md §8.4). Pure: the same options give the same text. */
export function unitText(o: UnitOptions): string {
  const configDir = path.dirname(o.configFile);
  const rw = [...new Set([o.dataDir, configDir])];
  return `# Written by \`postern service install\`; \`postern service uninstall\` removes it.
[Unit]
Description=Postern mail gateway
Documentation=https://github.com/postern/postern
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${o.user}
ExecStart=${[o.node, o.script, 'serve', '--config', o.configFile, '--data-dir', o.dataDir].map(unitWord).join(' ')}
WorkingDirectory=${o.dataDir.replace(/%/g, '%%')}
Restart=on-failure
RestartSec=5
TimeoutStopSec=30
UMask=0077
# Ports 25, 587 and 465 without root: this one capability, nothing else.
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=${protectHome([o.node, o.script, o.configFile, o.dataDir])}
ReadWritePaths=${rw.map(unitPath).join(' ')}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
# AF_NETLINK: this host's interfaces and routes (the detected networks, docs/design.md §2.2).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
# No MemoryDenyWriteExecute=: V8's JIT needs writable and executable memory.

[Install]
WantedBy=multi-user.target
`;
}

/** What install/status/uninstall need from the machine (tests pass their own). */
export interface ServiceHost {
  /** Runs a command; returns its exit code and output. */
  run(cmd: string, args: string[]): { status: number; stdout: string; stderr: string };
  /** Can systemctl manage services here (systemd is PID 1 and systemctl exists)? */
  systemdRunning(): boolean;
  isRoot(): boolean;
  unitPath: string;
  out(line: string): void;
}

export function realHost(): ServiceHost {
  return {
    run(cmd, args) {
      const r = spawnSync(cmd, args, { encoding: 'utf8' });
      return { status: r.error ? 127 : (r.status ?? 1), stdout: r.stdout ?? '', stderr: r.error ? r.error.message : (r.stderr ?? '') };
    },
    systemdRunning: () => fs.existsSync('/run/systemd/system') && ['/usr/bin/systemctl', '/bin/systemctl'].some((p) => fs.existsSync(p)),
    isRoot: () => process.getuid?.() === 0,
    unitPath: UNIT_PATH,
    out: (l) => console.log(l),
  };
}

/** The Node ≥ 24 that runs Postern: this process's, else the one `npm install` put next to bin/postern.js. */
export function serviceNode(script: string, execPath = process.execPath, version = process.versions.node): string {
  if (Number(version.split('.')[0]) >= 24) return runningBinary(execPath);
  return runningBinary(path.resolve(path.dirname(script), '..', 'node_modules', 'node', 'bin', 'node'));
}

const USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

export interface InstallOptions {
  script: string;
  configFile: string;
  dataDir: string;
  user: string;
  node: string;
}

/** The commands install runs after writing the unit (or prints, without systemd). */
export const ENABLE_COMMANDS = ['systemctl daemon-reload', `systemctl enable --now ${UNIT_NAME}`];

export function install(o: InstallOptions, host: ServiceHost): number {
  if (!host.isRoot()) throw new UsageError('service install writes a system unit and creates a user: run it as root (sudo postern service install …)');
  if (!USER_PATTERN.test(o.user)) throw new UsageError(`--user "${o.user}" is not a valid user name`);
  // The user Postern runs as: created (a system account, no login) when missing.
  if (host.run('id', ['-u', o.user]).status !== 0) {
    const r = host.run('useradd', ['--system', '--user-group', '--home-dir', o.dataDir, '--no-create-home', '--shell', '/usr/sbin/nologin', o.user]);
    if (r.status !== 0) throw new Error(`useradd ${o.user} failed: ${r.stderr.trim()}`);
    host.out(`Created the system user ${o.user}.`);
  }
  // Config and data belong to that user (the dashboard writes the config).
  const configDir = path.dirname(o.configFile);
  fs.mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(configDir, { recursive: true, mode: 0o750 });
  if (!fs.existsSync(o.configFile)) {
    writeConfigFile(o.configFile, { hostname: 'localhost', domains: [], accounts: [] });
    host.out(`Created ${o.configFile} with safe defaults; edit it to add your domain and accounts.`);
  }
  for (const p of [o.dataDir, configDir]) {
    const r = host.run('chown', ['-R', `${o.user}:`, p]);
    if (r.status !== 0) throw new Error(`chown ${o.user} ${p} failed: ${r.stderr.trim()}`);
  }
  // Can that user run Postern from where it is installed? (not from a home dir it cannot enter)
  const readable = host.run('runuser', ['-u', o.user, '--', 'test', '-r', o.script, '-a', '-x', o.node]);
  if (readable.status !== 0) {
    host.out(
      `Warning: the user ${o.user} cannot run ${o.script} with ${o.node} (a home directory it may not enter?). ` +
        'Put Postern where every user may read it (e.g. /opt/postern), or choose your own user: --user NAME.',
    );
  }
  fs.writeFileSync(host.unitPath, unitText(o), { mode: 0o644 });
  host.out(`Wrote ${host.unitPath}: postern serve as ${o.user}, allowed to open ports below 1024, started at boot.`);
  if (!host.systemdRunning()) {
    host.out(`systemd is not running here; to start Postern now and at every boot, run:\n  ${ENABLE_COMMANDS.join(' && ')}`);
    return 0;
  }
  for (const c of ENABLE_COMMANDS) {
    const [cmd, ...args] = c.split(' ');
    const r = host.run(cmd, args);
    if (r.status !== 0) throw new Error(`${c} failed: ${r.stderr.trim()}`);
  }
  host.out(`Postern runs now and starts at every boot. \`postern service status\` shows how it is; its output: journalctl -u ${UNIT_NAME}`);
  return 0;
}

export function status(host: ServiceHost): number {
  if (!fs.existsSync(host.unitPath)) {
    host.out(`Postern is not installed as a service (${host.unitPath} does not exist): sudo postern service install`);
    return 3;
  }
  if (!host.systemdRunning()) {
    host.out(`${host.unitPath} is installed, but systemd is not running here, so nothing starts it.`);
    return 3;
  }
  const r = host.run('systemctl', ['status', '--no-pager', UNIT_NAME]);
  host.out((r.stdout || r.stderr).trimEnd());
  // systemctl status: 0 running, 3 not running (LSB); passed on.
  return r.status;
}

export function uninstall(host: ServiceHost): number {
  if (!host.isRoot()) throw new UsageError('service uninstall removes a system unit: run it as root (sudo postern service uninstall)');
  if (!fs.existsSync(host.unitPath)) {
    host.out(`Postern is not installed as a service (${host.unitPath} does not exist).`);
    return 0;
  }
  if (host.systemdRunning()) host.run('systemctl', ['disable', '--now', UNIT_NAME]);
  fs.rmSync(host.unitPath, { force: true });
  if (host.systemdRunning()) host.run('systemctl', ['daemon-reload']);
  host.out(`Removed ${host.unitPath}; Postern no longer starts at boot. The config, the mail and the user are kept.`);
  return 0;
}

/** `postern service …` (core/cli.ts). `script`: this checkout's bin/postern.js. */
export function serviceCommand(argv: string[], script: string, host: ServiceHost = realHost()): number {
  const [sub, ...rest] = argv;
  if (process.platform !== 'linux') throw new UsageError('postern service manages a systemd unit: Linux only');
  switch (sub) {
    case 'install': {
      const { values, positionals } = parseCommand(rest, {
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        user: { type: 'string' },
        print: { type: 'boolean' },
      });
      if (positionals.length) throw new UsageError(`service install takes no arguments (got "${positionals[0]}")`);
      const realScript = runningBinary(script);
      const o: InstallOptions = {
        script: realScript,
        node: serviceNode(realScript),
        configFile: path.resolve(values.config ?? SERVICE_CONFIG),
        dataDir: path.resolve(values['data-dir'] ?? SERVICE_DATA_DIR),
        user: values.user ?? DEFAULT_USER,
      };
      if (values.print) {
        host.out(unitText(o).trimEnd());
        return 0;
      }
      return install(o, host);
    }
    case 'status':
    case 'uninstall': {
      const { positionals } = parseCommand(rest, {});
      if (positionals.length) throw new UsageError(`service ${sub} takes no arguments (got "${positionals[0]}")`);
      return sub === 'status' ? status(host) : uninstall(host);
    }
    case undefined:
      throw new UsageError('service needs a subcommand: install, status or uninstall');
    default:
      throw new UsageError(`unknown service subcommand "${sub}" (install, status or uninstall)`);
  }
}
