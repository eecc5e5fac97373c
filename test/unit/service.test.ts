// `postern service install|status|uninstall` (docs/design.md §8.4): the unit text (a pure
// function), checked by systemd's own parser (`systemd-analyze verify`, every warning
// a failure), and the steps install and uninstall take, seen through a fake host.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ENABLE_COMMANDS, protectHome, serviceCommand, serviceNode, unitText, type ServiceHost } from '../../core/service/systemd.ts';
import { tempDir } from '../support/gateway.ts';
import { ROOT, POSTERN } from '../support/serve-process.ts';
import { requireTools } from '../support/tools.ts';

before(() => requireTools('systemd-analyze'));

const NODE = fs.realpathSync(path.join(ROOT, 'node_modules', 'node', 'bin', 'node'));
const SCRIPT = fs.realpathSync(POSTERN);

function unitLines(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const l of text.split('\n')) {
    const hit = /^([A-Za-z]+)=(.*)$/.exec(l);
    if (hit) m.set(hit[1], [...(m.get(hit[1]) ?? []), hit[2]]);
  }
  return m;
}

test('the unit: postern serve on the Node 24 binary, its own user, port capability only, restart, hardening', () => {
  const text = unitText({ node: NODE, script: SCRIPT, configFile: '/etc/postern/config.json', dataDir: '/var/lib/postern', user: 'postern' });
  const u = unitLines(text);
  const one = (k: string) => {
    assert.equal(u.get(k)?.length, 1, `${k}= once`);
    return u.get(k)![0];
  };
  assert.equal(one('ExecStart'), `${NODE} ${SCRIPT} serve --config /etc/postern/config.json --data-dir /var/lib/postern`);
  assert.equal(one('User'), 'postern');
  assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('ProtectHome'), 'yes');
  assert.equal(one('ReadWritePaths'), '/var/lib/postern /etc/postern');
  for (const k of ['PrivateTmp', 'PrivateDevices', 'ProtectKernelTunables', 'ProtectControlGroups', 'LockPersonality']) assert.equal(one(k), 'yes', k);
  assert.match(one('RestrictAddressFamilies'), /^AF_UNIX AF_INET AF_INET6\b/);
  assert.equal(u.get('MemoryDenyWriteExecute'), undefined, "V8's JIT needs W+X memory");
  assert.equal(one('WantedBy'), 'multi-user.target');
  // pure: the same options, the same text
  assert.equal(unitText({ node: NODE, script: SCRIPT, configFile: '/etc/postern/config.json', dataDir: '/var/lib/postern', user: 'postern' }), text);
});

test('ProtectHome: yes, or read-only when Postern, its config or its data is in a home directory', () => {
  assert.equal(protectHome(['/opt/postern/bin/postern.js', '/var/lib/postern']), 'yes');
  assert.equal(protectHome(['/opt/postern/bin/postern.js', '/home/john/postern-data']), 'read-only');
  assert.equal(protectHome(['/root/postern/node_modules/node/bin/node']), 'read-only');
  assert.equal(protectHome(['/homework/x']), 'yes');
  const u = unitLines(
    unitText({ node: NODE, script: SCRIPT, configFile: '/home/john/.config/Postern/config.json', dataDir: '/home/john/mail data', user: 'john' }),
  );
  assert.equal(u.get('ProtectHome')![0], 'read-only');
  assert.equal(u.get('ReadWritePaths')![0], '"/home/john/mail data" /home/john/.config/Postern');
  assert.match(u.get('ExecStart')![0], / --data-dir "\/home\/john\/mail data"$/);
});

/** systemd-analyze verify: exit 0 and nothing on stderr (it exits 0 on unknown keys, bad values). */
function verify(unit: string): { status: number | null; stderr: string } {
  const dir = tempDir('postern-unit-');
  try {
    const file = path.join(dir, 'postern.service');
    fs.writeFileSync(file, unit);
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('systemd-analyze verify accepts the unit without a single warning', () => {
  const dir = tempDir('postern-svc-');
  try {
    // a user that exists here and is not systemd's "special" nobody
    const unit = unitText({
      node: NODE,
      script: SCRIPT,
      configFile: path.join(dir, 'etc', 'config.json'),
      dataDir: path.join(dir, 'data dir'),
      user: 'daemon',
    });
    const r = verify(unit);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    // and the check would see a mistake: a misspelt key, a binary that is not there
    assert.match(verify(unit.replace('NoNewPrivileges=', 'NoNewPrivilegez=')).stderr, /Unknown key 'NoNewPrivilegez'/);
    assert.notEqual(verify(unit.replace(`ExecStart=${NODE}`, 'ExecStart=/no/such/node')).status, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A machine that records what install and uninstall do. */
function fakeHost(o: { root?: boolean; systemd?: boolean; users?: string[] } = {}): ServiceHost & { ran: string[]; lines: string[] } {
  const dir = tempDir('postern-unitdir-');
  const ran: string[] = [];
  const lines: string[] = [];
  const users = new Set(o.users ?? []);
  return {
    ran,
    lines,
    unitPath: path.join(dir, 'postern.service'),
    isRoot: () => o.root ?? true,
    systemdRunning: () => o.systemd ?? true,
    out: (l) => lines.push(l),
    run(cmd, args) {
      ran.push([cmd, ...args].join(' '));
      if (cmd === 'id') return { status: users.has(args[1]) ? 0 : 1, stdout: '', stderr: '' };
      if (cmd === 'useradd') users.add(args.at(-1)!);
      return {
        status: 0,
        stdout: cmd === 'systemctl' && args[0] === 'status' ? '● postern.service - Postern mail gateway\n   Active: active (running)' : '',
        stderr: '',
      };
    },
  };
}

test('install: creates the user when missing, owns config and data to it, writes the unit, enables it now', () => {
  const dir = tempDir('postern-install-');
  const host = fakeHost();
  const config = path.join(dir, 'etc', 'config.json');
  const data = path.join(dir, 'data');
  assert.equal(serviceCommand(['install', '--config', config, '--data-dir', data], POSTERN, host), 0);
  assert.deepEqual(host.ran, [
    'id -u postern',
    `useradd --system --user-group --home-dir ${data} --no-create-home --shell /usr/sbin/nologin postern`,
    `chown -R postern: ${data}`,
    `chown -R postern: ${path.join(dir, 'etc')}`,
    `runuser -u postern -- test -r ${SCRIPT} -a -x ${serviceNode(SCRIPT)}`,
    ...ENABLE_COMMANDS,
  ]);
  const unit = fs.readFileSync(host.unitPath, 'utf8');
  assert.match(unit, new RegExp(`^ExecStart=${serviceNode(SCRIPT)} ${SCRIPT} serve --config ${config} --data-dir ${data}$`, 'm'));
  assert.ok(fs.existsSync(config), 'a starter config');
  assert.equal(fs.statSync(data).mode & 0o777, 0o700);

  // A chosen user that exists: not created again. Without systemd: the commands are printed.
  const other = fakeHost({ users: ['john'], systemd: false });
  assert.equal(serviceCommand(['install', '--user', 'john', '--config', config, '--data-dir', data], POSTERN, other), 0);
  assert.ok(!other.ran.some((c) => c.startsWith('useradd') || c.startsWith('systemctl')), other.ran.join('\n'));
  assert.match(other.lines.join('\n'), /systemctl daemon-reload && systemctl enable --now postern\.service/);
  assert.match(fs.readFileSync(other.unitPath, 'utf8'), /^User=john$/m);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('status and uninstall; usage errors say what is wrong and change nothing', () => {
  const host = fakeHost();
  assert.equal(serviceCommand(['status'], POSTERN, host), 3);
  assert.match(host.lines.join('\n'), /not installed as a service/);
  fs.writeFileSync(host.unitPath, 'x');
  assert.equal(serviceCommand(['status'], POSTERN, host), 0);
  assert.match(host.lines.join('\n'), /active \(running\)/);
  assert.equal(serviceCommand(['uninstall'], POSTERN, host), 0);
  assert.ok(!fs.existsSync(host.unitPath));
  assert.deepEqual(host.ran.slice(-2), ['systemctl disable --now postern.service', 'systemctl daemon-reload']);

  const user = fakeHost({ root: false });
  assert.throws(() => serviceCommand(['install'], POSTERN, user), { name: 'UsageError', message: /run it as root/ });
  assert.deepEqual(user.ran, []);
  assert.throws(() => serviceCommand(['install', '--user', 'Bad User'], POSTERN, fakeHost()), { name: 'UsageError', message: /not a valid user name/ });
  assert.throws(() => serviceCommand(['install', '--frob'], POSTERN, fakeHost()), { name: 'UsageError', message: /Unknown option '--frob'/ });
  assert.throws(() => serviceCommand([], POSTERN, fakeHost()), { name: 'UsageError', message: /install, status or uninstall/ });
  assert.throws(() => serviceCommand(['restart'], POSTERN, fakeHost()), { name: 'UsageError', message: /unknown service subcommand "restart"/ });
});

test('`postern service install --print` prints the unit for the Node 24 that runs Postern, without root or changes', () => {
  const r = spawnSync(process.execPath, [POSTERN, 'service', 'install', '--print', '--data-dir', '/srv/postern'], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^ExecStart=${NODE} ${SCRIPT} serve --config /etc/postern/config.json --data-dir /srv/postern$`, 'm'));
  const bad = spawnSync(process.execPath, [POSTERN, 'service'], { encoding: 'utf8', cwd: ROOT });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'postern: service needs a subcommand: install, status or uninstall\n');
});
