// The desktop config store (electron/store.ts) over the real electron-store 12, in
// plain Node: electron-store imports `electron`, whose npm stub would try to
// download the binary; ELECTRON_OVERRIDE_DIST_PATH makes it return a path instead
// (docs/design.md §10.4), and an absolute cwd replaces app.getPath('userData').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../core/config/load.ts';
import { FileConfigStore } from '../../core/config/store.ts';
import { Gateway } from '../../core/gateway.ts';
import { ElectronConfigStore, starterConfig, type StoreClass } from '../../electron/store.ts';

process.env.ELECTRON_OVERRIDE_DIST_PATH ??= '/nonexistent';
const Store = (await import('electron-store')).default as unknown as StoreClass;

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'postern-estore-'));
}

test('first run: config.json created with safe defaults, mode 0600, only the starter keys', () => {
  const dir = tmp();
  try {
    const s = new ElectronConfigStore(Store, path.join(dir, 'Postern'), { watch: false, starter: starterConfig('Home-PC') });
    assert.equal(s.created, true);
    assert.equal(s.file, path.join(dir, 'Postern', 'config.json'));
    assert.equal(fs.statSync(s.file).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(fs.readFileSync(s.file, 'utf8')), { hostname: 'home-pc', domains: [], accounts: [] });
    const cfg = s.load();
    // Defaults filled in memory: only this computer is trusted.
    assert.deepEqual(
      cfg.internalNetworks.map((n) => [n.cidr, n.enabled]),
      [
        ['127.0.0.0/8', true],
        ['::1/128', true],
      ],
    );
    assert.equal(cfg.auth.maxFailures, 5);
    assert.equal(new ElectronConfigStore(Store, path.join(dir, 'Postern'), { watch: false }).created, false, 'second run');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the same file as `postern serve`: each side reads what the other wrote', () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ hostname: 'mx.doe-family.com', domains: ['doe-family.com'] }));
    const desk = new ElectronConfigStore(Store, dir, { watch: false });
    assert.equal(desk.created, false);
    assert.equal(desk.load().hostname, 'mx.doe-family.com');
    desk.update((raw) => {
      raw.internalNetworks = [{ cidr: '192.168.1.0/24', label: 'LAN', enabled: true }];
    });
    const cli = new FileConfigStore(file);
    assert.deepEqual(cli.load().internalNetworks, [{ cidr: '192.168.1.0/24', label: 'LAN', enabled: true }]);
    // What electron-store wrote is what core would accept, and holds no bookkeeping keys.
    assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8'))).sort(), ['domains', 'hostname', 'internalNetworks']);
    cli.update((raw) => {
      raw.accounts = [{ name: 'john', addresses: ['john@doe-family.com'] }];
    });
    assert.deepEqual(
      desk.load().accounts.map((a) => a.name),
      ['john'],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an invalid change is refused whole: ConfigError with JSON paths, nothing written', () => {
  const dir = tmp();
  try {
    const s = new ElectronConfigStore(Store, dir, { watch: false, starter: { hostname: 'mx.doe-family.com', domains: ['doe-family.com'] } });
    const before = fs.readFileSync(s.file, 'utf8');
    assert.throws(
      () =>
        s.update((raw) => {
          raw.accounts = [{ name: 'john', addresses: ['john@elsewhere.example'] }];
        }),
      (e: unknown) => e instanceof ConfigError && e.problems[0].path === '$.accounts[0].addresses[0]',
    );
    assert.throws(
      () =>
        s.update((raw) => {
          raw.listeners = [{ port: 99999, mode: 'mx' }];
        }),
      (e: unknown) => e instanceof ConfigError && e.problems[0].path === '$.listeners[0].port' && /Listener 1, "port": must be at most 65535/.test(e.message),
    );
    assert.equal(fs.readFileSync(s.file, 'utf8'), before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an invalid file on disk: opening refuses with the file and the path of each problem', () => {
  const dir = tmp();
  try {
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ hostname: 'x.example', bogus: 1, listeners: [{ port: 'x', mode: 'mx' }] }));
    assert.throws(
      () => new ElectronConfigStore(Store, dir, { watch: false }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith(path.join(dir, 'config.json')) &&
        e.problems.some((p) => p.path === '$.bogus') &&
        e.problems.some((p) => p.path === '$.listeners[0].port'),
    );
    fs.writeFileSync(path.join(dir, 'config.json'), '{ not json');
    assert.throws(() => new ElectronConfigStore(Store, dir, { watch: false }), ConfigError);
    assert.equal(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'), '{ not json', 'never cleared');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a gateway runs on it: a network toggle is saved to the file', async () => {
  const dir = tmp();
  try {
    const s = new ElectronConfigStore(Store, dir, {
      watch: false,
      starter: { hostname: 'mx.doe-family.com', listeners: [{ port: 0, host: '127.0.0.1', mode: 'mx' }] },
    });
    const gw = new Gateway({ store: s, dataDir: path.join(dir, 'data') });
    gw.setNetwork('10.1.0.0/16', true, 'Office');
    assert.deepEqual((JSON.parse(fs.readFileSync(s.file, 'utf8')) as { internalNetworks: unknown[] }).internalNetworks.at(-1), {
      cidr: '10.1.0.0/16',
      label: 'Office',
      enabled: true,
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an edit from outside (the CLI) is noticed by the watcher; our own writes are not reported', async () => {
  const dir = tmp();
  const s = new ElectronConfigStore(Store, dir, { watch: true, starter: { hostname: 'mx.doe-family.com', domains: ['doe-family.com'] } });
  try {
    let external = 0;
    s.onExternalChange(() => external++);
    s.update((raw) => {
      raw.domains = ['doe-family.com', 'doe.example'];
    });
    // `postern user add` while the app runs:
    new FileConfigStore(s.file).update((raw) => {
      raw.accounts = [{ name: 'jane', addresses: ['jane@doe-family.com'] }];
    });
    // An update right after it (before the poll noticed) must not write it away.
    s.update((raw) => {
      raw.publicAddress = '198.51.100.7';
    });
    assert.deepEqual(
      s.load().accounts.map((a) => a.name),
      ['jane'],
    );
    const cli = () =>
      new FileConfigStore(s.file).update((raw) => {
        raw.accounts = [
          { name: 'jane', addresses: ['jane@doe-family.com'] },
          { name: 'joe', addresses: ['joe@doe-family.com'] },
        ];
      });
    cli();
    const deadline = Date.now() + 8000; // conf polls every 500 ms on Linux, then debounces 1 s
    while (external === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(external, 1, 'the outside edit was reported once');
    assert.deepEqual(
      s.load().accounts.map((a) => a.name),
      ['jane', 'joe'],
    );
  } finally {
    s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('starter hostname: the host name when usable, else localhost', () => {
  assert.equal(starterConfig('Family-PC').hostname, 'family-pc');
  assert.equal(starterConfig('Jöns PC').hostname, 'localhost');
  assert.equal(starterConfig('.x').hostname, 'localhost');
});
