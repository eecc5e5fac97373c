// The tray as data (electron/tray-model.ts) for each gateway state, and the tray
// service (electron/tray.ts) driving a fake Tray: rebuild + setContextMenu on every
// change, nothing when nothing changed, actions from menu clicks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayStatus, ListenerStatus } from '../../core/gateway.ts';
import type { NetworkView } from '../../core/net/networks.ts';
import { menuLabel, trayModel, type MenuAction, type MenuItemModel, type TrayInput } from '../../electron/tray-model.ts';
import { TrayService, toTemplate, type MenuTemplateItem } from '../../electron/tray.ts';

function listener(port: number, ok = true, error?: string): ListenerStatus {
  return ok ? { mode: 'mx', host: '::', port, boundPort: port, ok } : { mode: 'mx', host: '::', port, boundPort: null, ok, error, fix: 'do something' };
}

function status(state: GatewayStatus['state'], listeners: ListenerStatus[] = [], accepted = 0, rejected = 0): GatewayStatus {
  return {
    state,
    hostname: 'mx.doe-family.com',
    startedAt: state === 'stopped' ? null : '2025-01-01T00:00:00.000Z',
    listeners,
    counters: { connections: 0, accepted, rejected, deferred: 0, relayDenied: 0, authFailures: 0, logins: 0, refusedConnections: 0 },
    tls: null,
    queue: { outbound: 0 },
    setup: null,
  };
}

const NETS: NetworkView[] = [
  { cidr: '127.0.0.0/8', label: 'This computer', enabled: true, detected: false, configured: true, kind: 'loopback', builtin: true },
  { cidr: '192.168.1.0/24', label: 'Local network (eth0)', enabled: false, detected: true, configured: false, kind: 'lan', builtin: false },
  { cidr: '10.8.0.0/24', label: 'R&D VPN', enabled: true, detected: false, configured: true, kind: 'vpn', builtin: false },
];

function input(s: GatewayStatus | null, extra: Partial<TrayInput> = {}): TrayInput {
  return { status: s, networks: NETS, openAtLogin: false, problems: [], ...extra };
}

const labels = (items: MenuItemModel[]) => items.map((i) => (i.type === 'separator' ? '---' : i.label));
const find = (items: MenuItemModel[], label: string) => items.find((i) => i.label === label);

test('running: green icon, counts in the tooltip, Stop offered, ports in the status line', () => {
  const m = trayModel(input(status('running', [listener(25), listener(587)], 12, 3)));
  assert.equal(m.icon, 'running');
  assert.equal(m.tooltip, 'Postern: running · 12 accepted · 3 rejected');
  assert.deepEqual(labels(m.menu), [
    'Running on ports 25, 587',
    '---',
    'Stop gateway',
    'Open dashboard',
    'Internal networks',
    '---',
    'Start at login',
    '---',
    'Quit Postern',
  ]);
  assert.equal(m.menu[0].enabled, false, 'the status line is not clickable');
  assert.deepEqual(find(m.menu, 'Stop gateway')!.action, { kind: 'stop' });
  assert.equal(find(m.menu, 'Start gateway'), undefined);
});

test('stopped: grey icon, Start offered', () => {
  const m = trayModel(input(status('stopped')));
  assert.equal(m.icon, 'stopped');
  assert.equal(m.menu[0].label, 'Gateway stopped: no mail is received');
  assert.deepEqual(find(m.menu, 'Start gateway')!.action, { kind: 'start' });
  assert.equal(find(m.menu, 'Start gateway')!.enabled, true);
  assert.equal(m.tooltip, 'Postern: stopped · 0 accepted · 0 rejected');
});

test('error: red icon, the first failure in the status line, Start offered again', () => {
  const m = trayModel(input(status('error', [listener(25, false, 'port 25 needs administrator privileges (ports below 1024 do on Linux)')])));
  assert.equal(m.icon, 'error');
  assert.equal(m.menu[0].label, 'Not running: port 25 needs administrator privileges (ports below 1024 do on Linux)');
  assert.ok(find(m.menu, 'Start gateway'));
  assert.match(m.tooltip, /^Postern: error/);
});

test('attention: running with a port that failed, or with problems not yet seen', () => {
  const partial = trayModel(input(status('running', [listener(2525), listener(25, false, 'port 25 is already in use by another program')])));
  assert.equal(partial.icon, 'attention');
  assert.equal(partial.menu[0].label, 'Running on 2525; port 25 not listening');
  assert.equal(partial.menu[1].label, '⚠ Port 25: port 25 is already in use by another program');
  assert.match(partial.tooltip, /needs attention/);

  const problems = ['203.0.113.9 blocked after failed logins', 'Delivery to a@b.example failed', 'x', 'y', 'z'];
  const m = trayModel(input(status('running', [listener(25)]), { problems }));
  assert.equal(m.icon, 'attention');
  const warn = m.menu.filter((i) => i.label?.startsWith('⚠'));
  assert.deepEqual(
    warn.map((i) => i.label),
    ['⚠ 203.0.113.9 blocked after failed logins', '⚠ Delivery to a@b.example failed', '⚠ x', '⚠ 2 more: open the dashboard'],
  );
  // An error stays an error, whatever else needs attention.
  assert.equal(trayModel(input(status('error', []), { problems })).icon, 'error');
});

test('starting and not-yet-created: stopped icon, Stop/Start disabled', () => {
  const starting = trayModel(input(status('starting')));
  assert.equal(starting.icon, 'stopped');
  assert.equal(find(starting.menu, 'Stop gateway')!.enabled, false);
  const none = trayModel(input(null));
  assert.equal(none.menu[0].label, 'Postern is starting…');
  assert.equal(find(none.menu, 'Start gateway')!.enabled, false);
  assert.equal(none.tooltip, 'Postern: starting');
});

test('internal networks: one checkbox each, checked = enabled, clicking toggles; & escaped', () => {
  const m = trayModel(input(status('running', [listener(25)])));
  const sub = find(m.menu, 'Internal networks')!;
  assert.equal(sub.type, 'submenu');
  assert.deepEqual(
    sub.submenu!.map((i) => [i.type, i.label, i.checked, i.action]),
    [
      ['checkbox', 'This computer: 127.0.0.0/8', true, { kind: 'network', cidr: '127.0.0.0/8', enabled: false }],
      ['checkbox', 'Local network (eth0): 192.168.1.0/24', false, { kind: 'network', cidr: '192.168.1.0/24', enabled: true }],
      ['checkbox', 'R&&D VPN: 10.8.0.0/24', true, { kind: 'network', cidr: '10.8.0.0/24', enabled: false }],
    ],
  );
  const empty = trayModel(input(status('running', [listener(25)]), { networks: [] }));
  assert.deepEqual(
    find(empty.menu, 'Internal networks')!.submenu!.map((i) => [i.label, i.enabled]),
    [['No networks', false]],
  );
  assert.equal(menuLabel('a & b && c'), 'a && b &&&& c');
});

test('start at login: a checkbox reflecting the setting; clicking flips it', () => {
  const off = find(trayModel(input(status('running'))).menu, 'Start at login')!;
  assert.deepEqual([off.type, off.checked, off.action], ['checkbox', false, { kind: 'login', enabled: true }]);
  const on = find(trayModel(input(status('running'), { openAtLogin: true })).menu, 'Start at login')!;
  assert.deepEqual([on.checked, on.action], [true, { kind: 'login', enabled: false }]);
  assert.deepEqual(find(trayModel(input(null)).menu, 'Quit Postern')!.action, { kind: 'quit' });
});

class FakeTray {
  images: unknown[] = [];
  tooltips: string[] = [];
  menus: MenuTemplateItem[][] = [];
  clicks: (() => void)[] = [];
  destroyed = false;
  constructor(image: unknown) {
    this.images.push(image);
  }
  setImage(image: unknown) {
    this.images.push(image);
  }
  setToolTip(t: string) {
    this.tooltips.push(t);
  }
  setContextMenu(menu: unknown) {
    this.menus.push(menu as MenuTemplateItem[]);
  }
  on(_event: 'click', fn: () => void) {
    this.clicks.push(fn);
    return this;
  }
  destroy() {
    this.destroyed = true;
  }
}

function service() {
  const actions: MenuAction[] = [];
  let tray: FakeTray | null = null;
  const svc = new TrayService({
    createTray: (img) => (tray = new FakeTray(img)),
    buildMenu: (t) => t,
    image: (state) => `img:${state}`,
    onAction: (a) => actions.push(a),
  });
  return { svc, actions, tray: () => tray! };
}

function click(menu: MenuTemplateItem[], path: string[]): void {
  let items = menu;
  for (let i = 0; i < path.length; i++) {
    const it = items.find((x) => x.label === path[i]);
    assert.ok(it, `no menu item ${path[i]}`);
    if (i === path.length - 1) return it.click!();
    items = it.submenu!;
  }
}

test('tray service: menu set again on every change, nothing on no change, icon swapped by state', () => {
  const { svc, actions, tray } = service();
  svc.setStatus(status('running', [listener(25)]));
  const t = tray();
  assert.deepEqual(t.images, ['img:running']);
  assert.equal(t.menus.length, 1);
  svc.setStatus(status('running', [listener(25)])); // same state: no work
  assert.equal(t.menus.length, 1);
  assert.equal(svc.renders, 1);
  svc.setStatus(status('running', [listener(25)], 1, 0)); // a counter: tooltip and menu again (Linux)
  assert.equal(t.menus.length, 2);
  assert.deepEqual(t.images, ['img:running'], 'same icon: not set again');
  assert.equal(t.tooltips.at(-1), 'Postern: running · 1 accepted · 0 rejected');
  svc.setStatus(status('error', [listener(25, false, 'boom')], 1, 0));
  assert.deepEqual(t.images, ['img:running', 'img:error']);
  svc.setNetworks(NETS.map((n) => (n.cidr === '192.168.1.0/24' ? { ...n, enabled: true } : n)));
  assert.equal(t.menus.length, 4);

  click(t.menus.at(-1)!, ['Start gateway']);
  click(t.menus.at(-1)!, ['Internal networks', 'Local network (eth0): 192.168.1.0/24']);
  click(t.menus.at(-1)!, ['Start at login']);
  click(t.menus.at(-1)!, ['Open dashboard']);
  click(t.menus.at(-1)!, ['Quit Postern']);
  t.clicks[0](); // the icon itself opens the dashboard
  assert.deepEqual(actions, [
    { kind: 'start' },
    { kind: 'network', cidr: '192.168.1.0/24', enabled: false },
    { kind: 'login', enabled: true },
    { kind: 'open' },
    { kind: 'quit' },
    { kind: 'open' },
  ]);
  svc.setOpenAtLogin(true);
  assert.equal(t.menus.at(-1)!.find((i) => i.label === 'Start at login')!.checked, true);
  svc.destroy();
  assert.equal(t.destroyed, true);
});

test('toTemplate keeps types, flags and nesting, and wires clicks only where there is an action', () => {
  const seen: MenuAction[] = [];
  const t = toTemplate(
    [
      { type: 'normal', label: 'x', enabled: false },
      { type: 'separator' },
      { type: 'submenu', label: 's', submenu: [{ type: 'checkbox', label: 'c', checked: true, action: { kind: 'open' } }] },
    ],
    (a) => seen.push(a),
  );
  assert.equal(t[0].click, undefined);
  assert.deepEqual(t[1], { type: 'separator' });
  t[2].submenu![0].click!();
  assert.deepEqual(seen, [{ kind: 'open' }]);
  assert.equal(t[2].submenu![0].checked, true);
});

test('a failing setup check puts the tray in the attention state and names the checks in the menu', () => {
  const s = {
    ...status('running', [listener(25)], 3, 1),
    setup: { ranAt: '2025-01-01T00:00:00.000Z', fails: 2, warns: 1, failing: ['MX record', 'Open-relay self-test'] },
  };
  const m = trayModel({ status: s, networks: NETS, openAtLogin: false, problems: [] });
  assert.equal(m.icon, 'attention');
  assert.match(m.tooltip, /needs attention/);
  const labels = m.menu.map((i) => i.label ?? '');
  assert.ok(labels.includes('⚠ Setup: MX record'), labels.join(' | '));
  assert.ok(labels.includes('⚠ Setup: Open-relay self-test'));
  // Warnings alone do not call for attention.
  const ok = trayModel({ status: { ...s, setup: { ...s.setup, fails: 0, failing: [] } }, networks: NETS, openAtLogin: false, problems: [] });
  assert.equal(ok.icon, 'running');
});
