// Free space (docs/design.md §3.6) and ports below 1024 (§2, §8.4): the pure parts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { longestMount } from '../../core/disk/describe.ts';
import { formatBytes, insufficientStorage, type DiskReading } from '../../core/disk/gauge.ts';
import { judgeDisk } from '../../core/doctor/disk-check.ts';
import { defaultFallbackPort, runningBinary, setcapCommand, shellQuote } from '../../core/service/ports.ts';
import { describeListenError } from '../../core/smtp/listeners.ts';

const GB = 1000 ** 3;
const MB = 1000 ** 2;
const desc = (freeBytes: number, usedPercent: number) => ({
  dir: '/var/lib/postern',
  mount: '/var',
  device: '/dev/sda3',
  type: 'ext4',
  sizeBytes: 100 * GB,
  freeBytes,
  usedPercent,
});

test('disk check: ok with room, a warning under 2 GB or over 90 % used, a failure under the minimum', () => {
  assert.equal(judgeDisk(desc(50 * GB, 50), 200 * MB).status, 'ok');
  assert.equal(
    judgeDisk(desc(50 * GB, 50), 200 * MB).detail,
    '50.0 GB free of 100 GB (50 % used) on /var (ext4, /dev/sda3), which holds the data dir /var/lib/postern',
  );
  assert.equal(judgeDisk(desc(1.9 * GB, 50), 200 * MB).status, 'warn');
  assert.equal(judgeDisk(desc(5 * GB, 90.5), 200 * MB).status, 'warn');
  const fail = judgeDisk(desc(150 * MB, 99.8), 200 * MB);
  assert.equal(fail.status, 'fail');
  assert.match(fail.detail, /below the minimum of 200 MB, new mail is refused \(452 4\.3\.1/);
  assert.match(fail.fix, /Free space on \/var/);
});

test('the data dir is on the mount with the longest prefix, at path boundaries', () => {
  const list = [{ mount: '/' }, { mount: '/var' }, { mount: '/var/lib' }, { mount: '/var/lib/postern-other' }, { mount: '/home' }];
  assert.equal(longestMount(list, '/var/lib/postern/data')?.mount, '/var/lib');
  assert.equal(longestMount(list, '/var/lib')?.mount, '/var/lib');
  assert.equal(longestMount(list, '/srv/mail')?.mount, '/');
  assert.equal(longestMount([{ mount: '/data' }], '/database'), null);
});

test('MAIL FROM below the bound: 452 4.3.1, rule disk, with the numbers; nothing with room or no reading', () => {
  const r: DiskReading = { freeBytes: 150 * MB, totalBytes: GB, ok: false, minFreeBytes: 200 * MB, at: 0 };
  const d = insufficientStorage(r, 'a@b.example', 'john');
  assert.deepEqual(d, {
    stage: 'mail',
    rule: 'disk',
    reason: '150 MB free where mail is stored, below the minimum of 200 MB',
    from: 'a@b.example',
    user: 'john',
    code: 452,
    text: '4.3.1 Insufficient system storage',
  });
  assert.equal(insufficientStorage({ ...r, ok: true }, 'a@b.example'), null);
  assert.equal(insufficientStorage(null, 'a@b.example'), null);
  assert.equal(formatBytes(512), '512 bytes');
  assert.equal(formatBytes(2_500_000_000), '2.5 GB');
});

test('fallback ports: 25 → 2525, 587 → 2587, 465 → 2465; none for unprivileged ports', () => {
  assert.equal(defaultFallbackPort(25), 2525);
  assert.equal(defaultFallbackPort(587), 2587);
  assert.equal(defaultFallbackPort(465), 2465);
  assert.equal(defaultFallbackPort(110), 2110);
  assert.equal(defaultFallbackPort(2525), null);
  assert.equal(defaultFallbackPort(0), null);
});

test('the EACCES fix names the binary given (the real path of the one running), quoted for a shell', () => {
  const e = Object.assign(new Error('listen EACCES'), { code: 'EACCES' });
  const { error, fix } = describeListenError({ port: 587, host: '::', mode: 'submission' }, e, '/opt/Postern/postern');
  assert.equal(error, 'port 587 needs administrator privileges (ports below 1024 do on Linux)');
  assert.equal(
    fix,
    'Run `sudo setcap cap_net_bind_service=+ep /opt/Postern/postern` (or, headless, `sudo postern service install`), or listen on 2587 and have the router forward 587 to it.',
  );
  const custom = describeListenError({ port: 25, host: '::', mode: 'mx', fallbackPort: 10025 }, e, '/x');
  assert.match(custom.fix, /listen on 10025 and have the router forward 25/);
  assert.equal(setcapCommand("/home/o'brien/My Apps/electron"), `setcap cap_net_bind_service=+ep '/home/o'\\''brien/My Apps/electron'`);
  assert.equal(shellQuote('/usr/bin/node'), '/usr/bin/node');
  assert.doesNotMatch(describeListenError({ port: 25, host: '::', mode: 'mx' }, e).fix, /which node/);
  assert.equal(runningBinary('/no/such/binary'), '/no/such/binary');
});
