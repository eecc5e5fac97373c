// The accounts service (core/accounts/service.ts): the one set of rules behind
// `postern user`, the dashboard and the desktop app. Over an in-memory config store;
// the CLI's and the API's translations of its errors are checked at the end.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AccountError, AccountsService, type AccountErrorCode, type AccountsStore } from '../../core/accounts/service.ts';
import { userCommand } from '../../core/accounts/cli.ts';
import { UsageError } from '../../core/cli/usage.ts';
import { verifyPassword } from '../../core/auth/builtin.ts';
import { MemoryConfigStore } from '../../core/config/store.ts';

/** A password the rules accept (docs/design.md §2.4: 10 characters or more, not a common one). */
const PW = 'violin cactus harbour';

const FAMILY = {
  hostname: 'mx.doe-family.com',
  domains: ['doe-family.com', 'doe.example'],
  accounts: [{ name: 'jane', addresses: ['jane@doe-family.com'] }],
};

/** A store that also records what each update announced (the gateway's `what`). */
function setup(raw: Record<string, unknown> = FAMILY) {
  const mem = new MemoryConfigStore(raw);
  const said: string[] = [];
  const store: AccountsStore = {
    load: () => mem.load(),
    update: (mutate, what) => {
      said.push(what);
      return mem.update(mutate);
    },
  };
  // A cheap stand-in for scrypt: these tests are about rules, not hashing.
  const service = new AccountsService(store, async (pw) => `test$${pw}`);
  return { mem, said, service };
}

async function refused(p: Promise<unknown> | (() => unknown), code: AccountErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(
    async () => (typeof p === 'function' ? p() : p),
    (e: unknown) => {
      assert.ok(e instanceof AccountError, String(e));
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('add', () => {
  test('a new account with its addresses (normalized, repeats dropped) and a hashed password', async () => {
    const { service, mem, said } = setup();
    const r = await service.add({ name: 'john', addresses: ['John.Doe@DOE-family.com', 'john.doe@doe-family.com', 'john@doe.example'], password: PW });
    assert.equal(r.created, true);
    assert.deepEqual(r.account, { name: 'john', addresses: ['John.Doe@doe-family.com', 'john@doe.example'], hasPassword: true });
    assert.equal(mem.load().accounts.find((a) => a.name === 'john')?.passwordHash, `test$${PW}`);
    assert.deepEqual(said, ['account john saved']);
  });

  test('an existing name: the password is replaced and the addresses added', async () => {
    const { service } = setup();
    const r = await service.add({ name: 'jane', addresses: ['jane.doe@doe-family.com'], password: 'a new passphrase' });
    assert.equal(r.created, false);
    assert.deepEqual(r.account.addresses, ['jane@doe-family.com', 'jane.doe@doe-family.com']);
    const again = await service.add({ name: 'jane', addresses: [], password: 'an even newer one' });
    assert.deepEqual(again.account.addresses, ['jane@doe-family.com', 'jane.doe@doe-family.com'], 'no address needed to set a password');
  });

  test('no address is invented: a new account needs one', async () => {
    const { service, mem } = setup();
    await refused(service.add({ name: 'kid', addresses: [], password: PW }), 'no-address', /a new account needs at least one address/);
    assert.deepEqual(
      mem.load().accounts.map((a) => a.name),
      ['jane'],
    );
  });

  test('checks in one order: name, then password, then addresses', async () => {
    const { service } = setup();
    const bad = { name: 'Bad Name', addresses: ['x@elsewhere.example'], password: '' };
    await refused(
      service.add(bad),
      'invalid-name',
      /"Bad Name" cannot be an account name: use only lower-case letters, digits, dots, hyphens and underscores, starting with a letter or digit, at most 64 — for example "badname"/,
    );
    await refused(service.add({ name: 'kid', addresses: [], password: '' }), 'invalid-password', /^the password is empty: choose a longer one/);
    await refused(service.add({ name: 'kid', addresses: [], password: 'x'.repeat(1025) }), 'invalid-password', /longer than 1024/);
  });

  test('passwords: at least 10 characters, not a common one, not a simple pattern', async () => {
    const { service } = setup();
    const kid = (password: string) => service.add({ name: 'kid', addresses: ['kid@doe-family.com'], password });
    await refused(kid('x'), 'invalid-password', /^the password is too short \(1 characters; at least 10 are needed\): choose a longer one/);
    await refused(kid('abc12345!'), 'invalid-password', /too short \(9 characters/);
    for (const common of ['password123', 'Password123', 'qwertyuiop', 'iloveyou123', 'Football123', 'summer2024']) {
      await refused(kid(common), 'invalid-password', /on the list of the most common passwords/);
    }
    for (const pattern of ['aaaaaaaaaaaa', '0123456789', '9876543210', 'ababababab', 'mnbvcxzmnb']) {
      await refused(kid(pattern), 'invalid-password', /simple pattern|most common/);
    }
    await refused(kid('kidkid1234'), 'invalid-password', /mostly the account name/);
    assert.equal((await kid('violin cactus harbour')).created, true);
  });

  test('addresses: plain, local, and nobody else’s — in the words of the config file check', async () => {
    const { service, mem } = setup();
    const before = JSON.stringify(mem.load());
    const outside =
      /"kid@elsewhere\.example" is not in one of the family's domains \(doe-family\.com, doe\.example\): use an address ending in @doe-family\.com, or add elsewhere\.example to the domains first/;
    await refused(service.add({ name: 'kid', addresses: ['kid@elsewhere.example'], password: PW }), 'invalid-address', outside);
    await refused(service.add({ name: 'kid', addresses: ['@a:kid@doe-family.com'], password: PW }), 'invalid-address', /is not a plain mail address/);
    await refused(
      service.add({ name: 'kid', addresses: ['@a,@b:kid@doe-family.com'], password: PW }),
      'invalid-address',
      /has a comma in it, and a mail address has none: give several addresses one by one/,
    );
    // A comma typed for a dot is named, not split into two wrong addresses.
    const comma = /"john\.doe@doe-family,com" has a comma in it, and a mail address has none: did you mean "john\.doe@doe-family\.com"\?/;
    await refused(service.add({ name: 'kid', addresses: ['john.doe@doe-family,com'], password: PW }), 'invalid-address', comma);
    await refused(
      service.add({ name: 'kid', addresses: ['not an address'], password: PW }),
      'invalid-address',
      /is not a mail address: write it as name@domain, for example "john@doe-family\.com"/,
    );
    const taken = /"JANE@doe-family\.com" already belongs to account "jane"/;
    await refused(service.add({ name: 'kid', addresses: ['JANE@doe-family.com'], password: PW }), 'address-taken', taken);
    assert.equal(JSON.stringify(mem.load()), before, 'nothing stored');
  });
});

describe('list, setPassword, setAddresses, remove', () => {
  test('list shows whether a password is set, never the hash', async () => {
    const { service } = setup();
    await service.add({ name: 'john', addresses: ['john@doe-family.com'], password: PW });
    assert.deepEqual(service.list(), [
      { name: 'jane', addresses: ['jane@doe-family.com'], hasPassword: false },
      { name: 'john', addresses: ['john@doe-family.com'], hasPassword: true },
    ]);
  });

  test('setPassword', async () => {
    const { service, mem, said } = setup();
    assert.deepEqual(await service.setPassword('jane', 'secret harbour spoon'), { name: 'jane', addresses: ['jane@doe-family.com'], hasPassword: true });
    assert.equal(mem.load().accounts[0].passwordHash, 'test$secret harbour spoon');
    assert.deepEqual(said, ['password of account jane changed']);
    await refused(service.setPassword('nobody', PW), 'not-found', /no account named "nobody"/);
    await refused(service.setPassword('jane', ''), 'invalid-password', /empty/);
  });

  test('setAddresses replaces them; at least one; same address rules', async () => {
    const { service } = setup();
    await service.add({ name: 'john', addresses: ['john@doe-family.com'], password: PW });
    assert.deepEqual(service.setAddresses('jane', ['jane.doe@doe-family.com', 'jane@doe.example']).addresses, ['jane.doe@doe-family.com', 'jane@doe.example']);
    await refused(() => service.setAddresses('jane', []), 'no-address', /at least one address/);
    await refused(() => service.setAddresses('jane', ['john@doe-family.com']), 'address-taken', /belongs to account "john"/);
    await refused(() => service.setAddresses('nobody', ['x@doe-family.com']), 'not-found', /no account named "nobody"/);
  });

  test('remove', async () => {
    const { service, said } = setup();
    service.remove('jane');
    assert.deepEqual(service.list(), []);
    assert.deepEqual(said, ['account jane removed']);
    await refused(() => service.remove('jane'), 'not-found', /no account named "jane"/);
  });

  test('the rest of the config is not the account rules’ business, but still guarded', async () => {
    // A store whose update refuses for a reason outside the account (ConfigError).
    const store: AccountsStore = {
      load: () => new MemoryConfigStore(FAMILY).load(),
      update: (m) => new MemoryConfigStore({ ...FAMILY, hostname: 'not a host' }).update(m),
    };
    const broken = new AccountsService(store, async () => 'h');
    const kid = { name: 'kid', addresses: ['kid@doe-family.com'], password: PW };
    await refused(
      broken.add(kid),
      'invalid-config',
      /the account was not saved, because the configuration has a mistake elsewhere: The host name: "not a host" is not a valid host name/,
    );
  });
});

describe('the same refusals on the command line', () => {
  test('postern user: service errors become usage errors (exit 2), with the CLI’s hint', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-accounts-'));
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify(FAMILY));
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l) };
    const cli = (args: string[], pw = PW) => userCommand([...args, '--config', file], io, async () => pw);
    const usage = async (args: string[], pw: string, message: RegExp) =>
      assert.rejects(cli(args, pw), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && e.code === 'EUSER' && message.test(e.message));
    await usage(['add', 'kid'], PW, /^a new account needs at least one address \(give it with --address ADDR\)$/);
    await usage(['add', 'kid'], '', /^the password is empty: .* \(give it as the first line of stdin\)$/);
    await usage(['remove', 'nobody'], PW, /^no account named "nobody"$/);
    await usage(['rename', 'x'], PW, /unknown "user rename"/);
    await usage(['add'], PW, /user add needs exactly one NAME/);
    assert.equal(await cli(['add', 'kid', '--address', 'kid@doe-family.com']), 0);
    assert.match(lines.at(-1)!, /^Added account kid \(kid@doe-family\.com\) in /);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(await verifyPassword(PW, saved.accounts[1].passwordHash), true);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
