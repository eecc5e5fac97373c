// "Start at login" (electron/autostart.ts): the XDG autostart entry on Linux (path,
// content, AppImage, quoting), the login item on macOS/Windows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AUTOSTART_ARG,
  autostartCommand,
  autostartPath,
  createAutostart,
  desktopEntry,
  entryEnabled,
  execArg,
  startedAtLogin,
  XdgAutostart,
  type LaunchFacts,
} from '../../electron/autostart.ts';

const linux = (over: Partial<LaunchFacts> = {}): LaunchFacts => ({
  platform: 'linux',
  env: {},
  execPath: '/opt/Postern/postern',
  isPackaged: true,
  appPath: '/opt/Postern/resources/app.asar',
  home: '/home/john',
  ...over,
});

test('the entry lives in ~/.config/autostart/postern.desktop, or under $XDG_CONFIG_HOME', () => {
  assert.equal(autostartPath({}, '/home/john'), '/home/john/.config/autostart/postern.desktop');
  assert.equal(autostartPath({ XDG_CONFIG_HOME: '/home/john/.cfg' }, '/home/john'), '/home/john/.cfg/autostart/postern.desktop');
  // The spec ignores a relative XDG_CONFIG_HOME.
  assert.equal(autostartPath({ XDG_CONFIG_HOME: 'cfg' }, '/home/john'), '/home/john/.config/autostart/postern.desktop');
});

test('the command: the AppImage file when packaged as AppImage, else the executable (plus the app folder unpackaged)', () => {
  assert.deepEqual(autostartCommand(linux({ env: { APPIMAGE: '/home/john/Apps/Postern-0.1.0.AppImage' }, execPath: '/tmp/.mount_PosterXYZ/postern' })), {
    exec: '/home/john/Apps/Postern-0.1.0.AppImage',
    args: [AUTOSTART_ARG],
  });
  assert.deepEqual(autostartCommand(linux()), { exec: '/opt/Postern/postern', args: [AUTOSTART_ARG] });
  assert.deepEqual(autostartCommand(linux({ isPackaged: false, execPath: '/src/node_modules/electron/dist/electron', appPath: '/src' })), {
    exec: '/src/node_modules/electron/dist/electron',
    args: ['/src', AUTOSTART_ARG],
  });
  // APPIMAGE means nothing on other platforms.
  assert.equal(autostartCommand(linux({ platform: 'darwin', env: { APPIMAGE: '/x' } })).exec, '/opt/Postern/postern');
});

test('desktop entry content', () => {
  const text = desktopEntry({ exec: '/home/john/Apps/Postern-0.1.0.AppImage', args: [AUTOSTART_ARG] });
  assert.equal(
    text,
    [
      '[Desktop Entry]',
      'Type=Application',
      'Version=1.0',
      'Name=Postern',
      'Comment=Personal mail gateway for the family',
      'Exec=/home/john/Apps/Postern-0.1.0.AppImage --autostart',
      'Terminal=false',
      'Categories=Network;Email;',
      'X-GNOME-Autostart-enabled=true',
      'X-Postern-Autostart=1',
      '',
    ].join('\n'),
  );
  assert.equal(entryEnabled(text), true);
  assert.match(desktopEntry({ exec: '/x', args: [] }, '/opt/icon.png'), /^Icon=\/opt\/icon\.png$/m);
});

test('Exec quoting follows the Desktop Entry spec (spaces, quotes, $, backslash, %)', () => {
  assert.equal(execArg('/usr/bin/postern'), '/usr/bin/postern');
  assert.equal(execArg('/home/john/My Apps/Postern.AppImage'), '"/home/john/My Apps/Postern.AppImage"');
  // Inside quotes `"` `$` `` ` `` `\` get a backslash; then string escaping doubles every backslash.
  assert.equal(execArg('/a"b'), '"/a\\\\"b"');
  assert.equal(execArg('/a$b'), '"/a\\\\$b"');
  assert.equal(execArg('C:\\x'), '"C:\\\\\\\\x"');
  assert.equal(execArg('100%'), '100%%');
  assert.equal(execArg(''), '""');
  const text = desktopEntry({ exec: '/home/john/My Apps/Postern.AppImage', args: ['--autostart'] });
  assert.match(text, /^Exec="\/home\/john\/My Apps\/Postern\.AppImage" --autostart$/m);
});

test('an entry counts as on unless Hidden=true or disabled for GNOME', () => {
  assert.equal(entryEnabled('[Desktop Entry]\nExec=x\nHidden=true\n'), false);
  assert.equal(entryEnabled('[Desktop Entry]\nExec=x\nX-GNOME-Autostart-enabled=false\n'), false);
  assert.equal(entryEnabled('garbage'), false);
  assert.equal(entryEnabled('[Desktop Entry]\nExec=x\n'), true);
});

test('XdgAutostart writes, reads, refreshes a stale command and removes the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-autostart-'));
  try {
    const file = autostartPath({ XDG_CONFIG_HOME: dir });
    const a = new XdgAutostart(file, { exec: '/new/Postern.AppImage', args: [AUTOSTART_ARG] });
    assert.equal(a.isEnabled(), false);
    a.refresh(); // off: refresh does not turn it on
    assert.equal(fs.existsSync(file), false);
    a.set(true);
    assert.equal(a.isEnabled(), true);
    assert.match(fs.readFileSync(file, 'utf8'), /^Exec=\/new\/Postern\.AppImage --autostart$/m);
    // The AppImage moved: an enabled entry is rewritten with the new path.
    fs.writeFileSync(file, desktopEntry({ exec: '/old/Postern.AppImage', args: [AUTOSTART_ARG] }));
    a.refresh();
    assert.match(fs.readFileSync(file, 'utf8'), /^Exec=\/new\//m);
    a.set(false);
    assert.equal(fs.existsSync(file), false);
    a.set(false); // idempotent
    assert.deepEqual(fs.readdirSync(path.dirname(file)), [], 'no temp files left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('macOS and Windows use the login item; Windows with the same args it set', () => {
  const calls: unknown[] = [];
  let open = false;
  const app = {
    getLoginItemSettings: (o?: { args?: string[] }) => {
      calls.push(['get', o]);
      return { openAtLogin: open };
    },
    setLoginItemSettings: (o: { openAtLogin: boolean; args?: string[] }) => {
      calls.push(['set', o]);
      open = o.openAtLogin;
    },
  };
  const mac = createAutostart(linux({ platform: 'darwin' }), app);
  mac.set(true);
  assert.equal(mac.isEnabled(), true);
  const win = createAutostart(linux({ platform: 'win32' }), app);
  win.set(false);
  assert.equal(win.isEnabled(), false);
  assert.deepEqual(calls, [
    ['set', { openAtLogin: true }],
    ['get', undefined],
    ['set', { openAtLogin: false, args: [AUTOSTART_ARG] }],
    ['get', { args: [AUTOSTART_ARG] }],
  ]);
});

test('Linux uses the XDG entry, not the login item', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-autostart-'));
  try {
    const app = {
      getLoginItemSettings: () => assert.fail('no login item on Linux'),
      setLoginItemSettings: () => assert.fail('no login item on Linux'),
    };
    const a = createAutostart(linux({ env: { XDG_CONFIG_HOME: dir, APPIMAGE: '/apps/P.AppImage' } }), app);
    a.set(true);
    assert.match(fs.readFileSync(path.join(dir, 'autostart', 'postern.desktop'), 'utf8'), /^Exec=\/apps\/P\.AppImage --autostart$/m);
    assert.equal(a.isEnabled(), true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a login start is recognised (the window then stays hidden)', () => {
  assert.equal(startedAtLogin(['/opt/Postern/postern', AUTOSTART_ARG]), true);
  assert.equal(startedAtLogin(['/opt/Postern/postern']), false);
  assert.equal(startedAtLogin(['/Applications/Postern.app/Contents/MacOS/Postern'], true), true);
});
