// Ports refused in the desktop app (docs/design.md §7.3, §8.4): the one-time polkit
// authorisation (electron/port-permission.ts, pure) and what the tray says about fallback
// ports and a full disk (electron/tray-model.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayStatus, ListenerStatus } from '../../core/gateway.ts';
import { permissionOutcome, portPermissionOffer, refusedPorts } from '../../electron/port-permission.ts';
import { iconState, statusLine, trayModel } from '../../electron/tray-model.ts';

const BIN = '/opt/Postern/postern';
const why = { error: 'port 25 needs administrator privileges (ports below 1024 do on Linux)', fix: `Run \`sudo setcap cap_net_bind_service=+ep ${BIN}\`` };

function moved(mode: ListenerStatus['mode'], port: number, fallback: number): ListenerStatus {
  return { mode, host: '::', port, boundPort: fallback, ok: true, fallbackFrom: port, ...why };
}

function status(listeners: ListenerStatus[], disk: GatewayStatus['disk'] = { freeBytes: 50e9, ok: true }): GatewayStatus {
  return {
    state: 'running',
    hostname: 'mx.doe-family.com',
    startedAt: '2025-01-01T00:00:00.000Z',
    listeners,
    counters: { connections: 0, accepted: 0, rejected: 0, deferred: 0, relayDenied: 0, authFailures: 0 } as GatewayStatus['counters'],
    tls: null,
    queue: { outbound: 0 },
    setup: null,
    disk,
  };
}

const FALLBACK = status([moved('mx', 25, 2525), moved('submission', 587, 2587), moved('submissions', 465, 2465)]);

test('the offer: pkexec setcap on the real binary, the refused ports, a plain explanation; Linux only, once per port', () => {
  const o = portPermissionOffer(FALLBACK, 'linux', BIN)!;
  assert.deepEqual(o.command, ['pkexec', '/usr/sbin/setcap', 'cap_net_bind_service=+ep', BIN]);
  assert.deepEqual(o.ports, [25, 587, 465]);
  assert.match(o.message, /could not open ports 25, 587, 465/);
  assert.match(o.detail, /Meanwhile Postern listens on 2525 instead of 25, 2587 instead of 587, 2465 instead of 465/);
  assert.match(o.detail, /\/opt\/Postern\/postern — the right to open ports below 1024 .* it does not run as administrator/);
  assert.deepEqual(o.buttons, ['Allow…', 'Not now']);
  assert.equal(portPermissionOffer(FALLBACK, 'darwin', BIN), null);
  assert.equal(portPermissionOffer(FALLBACK, 'linux', BIN, new Set([25, 587, 465])), null);
  assert.equal(portPermissionOffer(status([{ mode: 'mx', host: '::', port: 2525, boundPort: 2525, ok: true }]), 'linux', BIN), null);
  assert.equal(portPermissionOffer(null, 'linux', BIN), null);
  // a port that failed with EACCES and had no fallback counts too; one in use does not
  const failed = status([
    { mode: 'mx', host: '::', port: 25, boundPort: null, ok: false, code: 'EACCES', ...why },
    { mode: 'submission', host: '::', port: 587, boundPort: null, ok: false, code: 'EADDRINUSE', error: 'in use' },
  ]);
  assert.deepEqual(refusedPorts(failed), [25]);
});

test('after pkexec: restart on success; cancelled or failed keeps the fallback and names the manual command', () => {
  assert.deepEqual(permissionOutcome(0, '', BIN), { ok: true, title: 'Ports allowed', body: 'Postern restarts now and listens on the real mail ports.' });
  assert.equal(permissionOutcome(126, '', BIN).ok, false);
  assert.match(permissionOutcome(126, '', BIN).body, /cancelled or refused; Postern keeps listening on the fallback ports/);
  const f = permissionOutcome(1, 'Failed to set capabilities on file: Read-only file system\n', BIN);
  assert.match(
    f.body,
    /setcap failed: Failed to set capabilities on file: Read-only file system\. Run it yourself: sudo setcap cap_net_bind_service=\+ep \/opt\/Postern\/postern/,
  );
});

test('the tray says "listening on 2525 instead of 25 (needs permission)", asks for attention, offers the authorisation', () => {
  assert.equal(statusLine(FALLBACK), 'Listening on 2525 instead of 25, 2587 instead of 587, 2465 instead of 465 (needs permission)');
  const one = status([moved('mx', 25, 2525)]);
  assert.equal(statusLine(one), 'Listening on 2525 instead of 25 (needs permission)');
  const input = { status: one, networks: [], openAtLogin: false, problems: [] };
  assert.equal(iconState(input), 'attention');
  const m = trayModel(input);
  assert.equal(m.menu[0].label, 'Listening on 2525 instead of 25 (needs permission)');
  assert.deepEqual(m.menu.find((i) => i.label === 'Allow mail ports 25, 587, 465…')?.action, { kind: 'ports' });
  const normal = trayModel({ ...input, status: status([{ mode: 'mx', host: '::', port: 25, boundPort: 25, ok: true }]) });
  assert.equal(normal.icon, 'running');
  assert.ok(!normal.menu.some((i) => i.action?.kind === 'ports'));
});

test('the tray says why mail is refused when the disk is full', () => {
  const full = status([{ mode: 'mx', host: '::', port: 25, boundPort: 25, ok: true }], { freeBytes: 100e6, ok: false });
  const m = trayModel({ status: full, networks: [], openAtLogin: false, problems: [] });
  assert.equal(m.icon, 'attention');
  assert.ok(
    m.menu.some((i) => i.label === '⚠ Disk full: new mail is refused (452) until space is freed'),
    JSON.stringify(m.menu.map((i) => i.label)),
  );
});
