// The smarthost password sealed with the OS keychain in the desktop app (docs/design.md
// §7.3, §8.2): electron/secrets.ts with a fake safeStorage (available, unavailable,
// damaged ciphertext), the desktop store sealing on update and opening on load over the
// real electron-store (as test/unit/electron-store.test.ts, docs/design.md §10.4), and
// core's schema accepting the sealed form as "not set".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, validateConfig } from '../../core/config/load.ts';
import { SEALED_PASSWORD_PROBLEM, sealedSecretNotice } from '../../core/config/secrets.ts';
import { FileConfigStore } from '../../core/config/store.ts';
import { smarthostCheck } from '../../core/doctor/smarthost.ts';
import { editableSettings } from '../../core/settings.ts';
import { keychainUsable, sealSecrets, unsealSecrets, type SafeStorageLike } from '../../electron/secrets.ts';
import { ElectronConfigStore, type StoreClass } from '../../electron/store.ts';

process.env.ELECTRON_OVERRIDE_DIST_PATH ??= '/nonexistent';
const Store = (await import('electron-store')).default as unknown as StoreClass;

/** A stand-in for Electron's safeStorage: "encrypts" by XOR with a key and a marker, refuses what it did not seal. */
function fakeSafeStorage(opts: { available?: boolean; backend?: string } = {}): SafeStorageLike & { sealed: number } {
  const key = 0x5a;
  return {
    sealed: 0,
    isEncryptionAvailable: () => opts.available ?? true,
    getSelectedStorageBackend: () => opts.backend ?? 'gnome_libsecret',
    encryptString(plain: string): Buffer {
      if (!(opts.available ?? true)) throw new Error('Encryption is not available.');
      this.sealed++;
      return Buffer.concat([Buffer.from('v11'), Buffer.from(plain, 'utf8').map((b) => b ^ key)]);
    },
    decryptString(enc: Buffer): string {
      if (!(opts.available ?? true)) throw new Error('Decryption is not available.');
      if (enc.subarray(0, 3).toString() !== 'v11') throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
      return Buffer.from(enc.subarray(3).map((b) => b ^ key)).toString('utf8');
    },
  };
}

const withPassword = (password: unknown) => ({ hostname: 'mx.doe-family.com', outbound: { smarthost: { host: 'smtp.example.net', user: 'doe', password } } });
const passwordOf = (raw: Record<string, unknown>) => (raw.outbound as { smarthost: { password: unknown } }).smarthost.password;

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'postern-secrets-'));
}

test('keychain available: the password is sealed as { safeStorage: base64 } and opened again', () => {
  const ss = fakeSafeStorage();
  const raw = withPassword('Tr0ub4dor&3-horse');
  const sealed = sealSecrets(raw, ss);
  const pw = passwordOf(sealed) as { safeStorage: string };
  assert.deepEqual(Object.keys(pw), ['safeStorage']);
  assert.equal(ss.decryptString(Buffer.from(pw.safeStorage, 'base64')), 'Tr0ub4dor&3-horse');
  assert.ok(!JSON.stringify(sealed).includes('Tr0ub4dor'), 'no clear text left');
  assert.equal(passwordOf(raw), 'Tr0ub4dor&3-horse', 'the input is not changed');
  const opened = unsealSecrets(sealed, ss);
  assert.deepEqual(opened.problems, []);
  assert.deepEqual(opened.raw, raw);
  // An empty password (none) and a file without the group are left alone.
  assert.deepEqual(sealSecrets(withPassword(''), ss), withPassword(''));
  assert.deepEqual(sealSecrets({ hostname: 'x.example' }, ss), { hostname: 'x.example' });
  assert.deepEqual(unsealSecrets({ outbound: 'odd' }, ss).raw, { outbound: 'odd' });
});

test('an unchanged password keeps its sealed value (a save of something else does not re-encrypt it)', () => {
  const ss = fakeSafeStorage();
  const stored = sealSecrets(withPassword('Tr0ub4dor&3-horse'), ss);
  const opened = unsealSecrets(stored, ss).raw;
  const next = { ...structuredClone(opened), domains: ['doe-family.com'] };
  const before = ss.sealed;
  assert.deepEqual(passwordOf(sealSecrets(next, ss, { stored, opened })), passwordOf(stored));
  assert.equal(ss.sealed, before);
  const changed = structuredClone(opened);
  (changed.outbound as { smarthost: { password: string } }).smarthost.password = 'a-new-one-2024!';
  assert.equal(passwordOf(unsealSecrets(sealSecrets(changed, ss, { stored, opened }), ss).raw), 'a-new-one-2024!');
});

test('keychain unavailable: the password stays as typed; a sealed one stays sealed and is reported', () => {
  const off = fakeSafeStorage({ available: false });
  assert.equal(keychainUsable(off), false);
  assert.equal(keychainUsable(null), false);
  assert.deepEqual(sealSecrets(withPassword('Tr0ub4dor&3-horse'), off), withPassword('Tr0ub4dor&3-horse'));
  assert.deepEqual(sealSecrets(withPassword('Tr0ub4dor&3-horse'), undefined), withPassword('Tr0ub4dor&3-horse'));
  const sealed = sealSecrets(withPassword('Tr0ub4dor&3-horse'), fakeSafeStorage());
  const r = unsealSecrets(sealed, off);
  assert.deepEqual(r.raw, sealed, 'left sealed, untouched');
  assert.deepEqual(
    r.problems.map((p) => [p.path, p.reason]),
    [['outbound.smarthost.password', 'no keychain']],
  );
  // Saving again without a keychain keeps the sealed value (the keychain may come back).
  assert.deepEqual(sealSecrets(r.raw, off, { stored: sealed, opened: r.raw }), sealed);
  // Linux without a keyring (basic_text: a fixed key) is no keychain: nothing is sealed with it.
  if (process.platform === 'linux')
    assert.deepEqual(sealSecrets(withPassword('Tr0ub4dor&3-horse'), fakeSafeStorage({ backend: 'basic_text' })), withPassword('Tr0ub4dor&3-horse'));
});

test('damaged ciphertext: not opened, left as it is, reported for the log', () => {
  const ss = fakeSafeStorage();
  for (const bad of ['bm90IG91cnM=', '%%%not-base64', 'AA==']) {
    const raw = withPassword({ safeStorage: bad });
    const r = unsealSecrets(raw, ss);
    assert.deepEqual(r.raw, raw);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0].reason, 'unreadable');
    assert.match(r.problems[0].technical, /decrypt/);
  }
});

test('core: the schema accepts the sealed form and treats it as not set; other shapes are refused in words, without the value', () => {
  const cfg = validateConfig(withPassword({ safeStorage: 'djExMjM0' }));
  assert.equal(cfg.outbound.smarthost.password, '');
  assert.equal(cfg.outbound.smarthost.passwordSealed, true);
  assert.equal(sealedSecretNotice(cfg), SEALED_PASSWORD_PROBLEM);
  assert.equal(editableSettings(cfg).outbound.passwordSet, false);
  assert.ok(!JSON.stringify(editableSettings(cfg)).includes('djExMjM0'));
  const plain = validateConfig(withPassword('secret-pass-1'));
  assert.equal(plain.outbound.smarthost.passwordSealed, undefined);
  assert.equal(sealedSecretNotice(plain), null);
  for (const bad of [{ safeStorage: '' }, { keychain: 'x' }, { safeStorage: 'x', extra: 1 }, 12345]) {
    assert.throws(
      () => validateConfig(withPassword(bad)),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.length === 1 &&
        e.problems[0].path === '$.outbound.smarthost.password' &&
        /must be the password as text in double quotes/.test(e.plain) &&
        !e.plain.includes('12345'),
    );
  }
});

test('setup check: a sealed password is a warning that says to enter it again (no connection tried)', async () => {
  const cfg = validateConfig({ ...withPassword({ safeStorage: 'djExMjM0' }), dns: { servers: ['127.0.0.1:9'], timeoutMs: 500 } });
  const c = await smarthostCheck({ config: cfg, dataDir: os.tmpdir(), dns: undefined as never, smtpTimeoutMs: 500 });
  assert.equal(c.status, 'warn');
  assert.equal(c.detail, SEALED_PASSWORD_PROBLEM);
  assert.match(c.fix, /Settings → Outgoing mail/);
});

test('desktop store: sealed on update, opened on load, mode 0600; `postern serve` reads the same file as "not set"', () => {
  const dir = tmp();
  try {
    const ss = fakeSafeStorage();
    const s = new ElectronConfigStore(Store, dir, { watch: false, starter: { hostname: 'mx.doe-family.com' }, safeStorage: ss });
    const cfg = s.update((raw) => {
      raw.outbound = { smarthost: { host: 'smtp.example.net', user: 'doe', password: 'Tr0ub4dor&3-horse' } };
    });
    assert.equal(cfg.outbound.smarthost.password, 'Tr0ub4dor&3-horse', 'the running config has it opened');
    const onDisk = fs.readFileSync(s.file, 'utf8');
    assert.ok(!onDisk.includes('Tr0ub4dor'), onDisk);
    assert.ok(typeof (passwordOf(JSON.parse(onDisk)) as { safeStorage?: string }).safeStorage === 'string');
    assert.equal(fs.statSync(s.file).mode & 0o777, 0o600);
    assert.equal(s.load().outbound.smarthost.password, 'Tr0ub4dor&3-horse');
    assert.equal(s.load().outbound.smarthost.passwordSealed, undefined);
    // Another save keeps the same sealed value.
    s.update((raw) => {
      raw.domains = ['doe-family.com'];
    });
    assert.deepEqual(passwordOf(JSON.parse(fs.readFileSync(s.file, 'utf8'))), passwordOf(JSON.parse(onDisk)));
    // `postern serve` and the CLI (no keychain): the file is accepted; the password is not set.
    const cli = new FileConfigStore(s.file);
    assert.equal(cli.load().outbound.smarthost.password, '');
    assert.equal(cli.load().outbound.smarthost.passwordSealed, true);
    cli.update((raw) => {
      raw.accounts = [];
    });
    assert.deepEqual(passwordOf(JSON.parse(fs.readFileSync(s.file, 'utf8'))), passwordOf(JSON.parse(onDisk)), 'an edit by the CLI keeps it sealed');
    // The desktop app without its keychain (or another computer's file): opens, not set, nothing lost.
    const noKeychain = new ElectronConfigStore(Store, dir, { watch: false, safeStorage: fakeSafeStorage({ available: false }) });
    assert.equal(noKeychain.load().outbound.smarthost.passwordSealed, true);
    noKeychain.update((raw) => {
      raw.hostname = 'mail.doe-family.com';
    });
    assert.deepEqual(passwordOf(JSON.parse(fs.readFileSync(s.file, 'utf8'))), passwordOf(JSON.parse(onDisk)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('desktop store: a password left in clear (typed in `postern serve`) is sealed when the app opens the file', () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(withPassword('Tr0ub4dor&3-horse')), { mode: 0o600 });
    const ss = fakeSafeStorage();
    const s = new ElectronConfigStore(Store, dir, { watch: false, safeStorage: ss });
    assert.ok(!fs.readFileSync(file, 'utf8').includes('Tr0ub4dor'));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(s.load().outbound.smarthost.password, 'Tr0ub4dor&3-horse');
    // Without a keychain it stays as it was.
    fs.writeFileSync(file, JSON.stringify(withPassword('Tr0ub4dor&3-horse')), { mode: 0o600 });
    new ElectronConfigStore(Store, dir, { watch: false, safeStorage: fakeSafeStorage({ available: false }) });
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), withPassword('Tr0ub4dor&3-horse'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
