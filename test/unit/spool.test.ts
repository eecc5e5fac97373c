// The spool (docs/design.md §3.1, §3.2): MessageStore.commit and recovery at start, and
// the directory syncer's group commit. Checked on a real file system in a temp dir;
// only the fsync calls are watched (node:test's mock.method on fs/promises).
import { test, describe, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { BODY_IN_MEMORY_BYTES, MessageStore, newQueueId, type OutboundEnvelope } from '../../core/spool/store.ts';
import { DirSyncer } from '../../core/spool/durable.ts';
import { tempDir } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';

const MESSAGE = Buffer.from('From: <aunt@example.net>\r\nTo: <john.doe@doe-family.com>\r\nSubject: hi\r\n\r\nHello.\r\n');

function withStore(fn: (store: MessageStore, dataDir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dataDir = tempDir('postern-spool-');
    try {
      await fn(new MessageStore(dataDir), dataDir);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  };
}

const ls = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

describe('MessageStore.commit', () => {
  test(
    'one copy per account in maildir/<account>/new with Return-Path and Delivered-To, the outbound pair without them, nothing left in incoming',
    withStore(async (store) => {
      const id = newQueueId();
      const r = await store.commit({
        id,
        from: 'aunt@example.net',
        client: '192.168.1.20',
        // Two addresses of one account get one copy (Delivered-To: the first).
        local: [
          { account: 'john', address: 'john.doe@doe-family.com' },
          { account: 'john', address: 'postmaster@doe-family.com' },
          { account: 'jane', address: 'jane.doe@doe-family.com' },
        ],
        remote: ['uncle@example.org', 'cousin@example.com'],
        data: MESSAGE,
      });
      await store.settled(); // the incoming names go after the commit resolves (the 250 does not wait)
      const john = ls(path.join(store.maildir('john'), 'new'));
      const jane = ls(path.join(store.maildir('jane'), 'new'));
      assert.equal(john.length, 1);
      assert.equal(jane.length, 1);
      const johnCopy = Buffer.concat([Buffer.from('Return-Path: <aunt@example.net>\r\nDelivered-To: john.doe@doe-family.com\r\n'), MESSAGE]);
      assert.match(
        john[0],
        new RegExp(`^\\d+\\.M\\d+P${process.pid}Q\\d+_${id}\\.[^/,]+,S=${johnCopy.length}$`),
        'the Maildir name convention, S= the size of this copy',
      );
      for (const sub of ['tmp', 'cur']) assert.deepEqual(ls(path.join(store.maildir('john'), sub)), [], `${sub}/ exists and is empty`);
      const johnFile = path.join(store.maildir('john'), 'new', john[0]);
      const janeFile = path.join(store.maildir('jane'), 'new', jane[0]);
      assert.deepEqual(fs.readFileSync(johnFile), johnCopy);
      assert.equal(
        fs.readFileSync(janeFile, 'latin1'),
        `Return-Path: <aunt@example.net>\r\nDelivered-To: jane.doe@doe-family.com\r\n${MESSAGE.toString('latin1')}`,
      );
      assert.deepEqual(r.maildirFiles.sort(), [johnFile, janeFile].sort());

      assert.deepEqual(ls(store.outbound), [`${id}.eml`, `${id}.json`]);
      assert.deepEqual(fs.readFileSync(path.join(store.outbound, `${id}.eml`)), MESSAGE, 'the outbound copy carries neither field');
      const eml = fs.statSync(path.join(store.outbound, `${id}.eml`));
      assert.equal(eml.nlink, 1, 'the incoming names are gone');
      assert.equal(fs.statSync(johnFile).nlink, 1);
      const env = JSON.parse(fs.readFileSync(path.join(store.outbound, `${id}.json`), 'utf8')) as OutboundEnvelope;
      assert.equal(env.id, id);
      assert.equal(env.from, 'aunt@example.net');
      assert.equal(env.client, '192.168.1.20');
      assert.equal(env.eightBit, false);
      assert.ok(Math.abs(Date.parse(env.received) - Date.now()) < 60_000, env.received);
      assert.deepEqual(env.recipients, [
        { address: 'uncle@example.org', status: 'queued', attempts: 0 },
        { address: 'cousin@example.com', status: 'queued', attempts: 0 },
      ]);
      assert.deepEqual(ls(store.incoming), []);
      assert.equal(fs.statSync(store.maildir('john')).mode & 0o777, 0o700, 'mail is private');
    }),
  );

  test(
    'a shared address: one file, hard-linked into each of its accounts; the null sender is Return-Path: <>',
    withStore(async (store) => {
      const local = [
        { account: 'john', address: 'family@doe-family.com' },
        { account: 'jane', address: 'family@doe-family.com' },
      ];
      await store.commit({ id: newQueueId(), from: '', client: '', local, remote: [], data: MESSAGE });
      await store.settled(); // the incoming name, a third link, goes after the commit resolves
      const [john] = ls(path.join(store.maildir('john'), 'new')).map((f) => path.join(store.maildir('john'), 'new', f));
      const [jane] = ls(path.join(store.maildir('jane'), 'new')).map((f) => path.join(store.maildir('jane'), 'new', f));
      assert.equal(fs.statSync(john).ino, fs.statSync(jane).ino, 'a link, not a copy');
      assert.equal(fs.statSync(john).nlink, 2);
      assert.match(fs.readFileSync(john, 'latin1'), /^Return-Path: <>\r\nDelivered-To: family@doe-family\.com\r\nFrom: /);
    }),
  );

  test(
    'the envelope records an 8-bit message, whether the 8-bit byte is in the header section or in the spooled body',
    withStore(async (store) => {
      const body = async (text: string) => {
        const id = newQueueId();
        const part = store.incomingPart(id);
        part.write(Buffer.from(text, 'utf8'));
        await store.commit({
          id,
          from: 'john.doe@doe-family.com',
          client: '',
          local: [],
          remote: ['aunt@example.net'],
          data: Buffer.from('Subject: x\r\n\r\n'),
          body: part,
        });
        await part.discard();
        return (JSON.parse(fs.readFileSync(path.join(store.outbound, `${id}.json`), 'utf8')) as OutboundEnvelope).eightBit;
      };
      assert.equal(await body('plain ASCII\r\n'.repeat(30000)), false);
      assert.equal(await body(`${'plain ASCII\r\n'.repeat(30000)}Grüße\r\n`), true, 'after the first 256 KiB piece');
      const id = newQueueId();
      await store.commit({ id, from: '', client: '', local: [], remote: ['aunt@example.net'], data: Buffer.from('Subject: Grüße\r\n\r\nhi\r\n', 'utf8') });
      assert.equal((JSON.parse(fs.readFileSync(path.join(store.outbound, `${id}.json`), 'utf8')) as OutboundEnvelope).eightBit, true);
    }),
  );

  test(
    'local recipients only: nothing in the outbound queue',
    withStore(async (store) => {
      const local = [{ account: 'jane', address: 'jane.doe@doe-family.com' }];
      await store.commit({ id: newQueueId(), from: '', client: '', local, remote: [], data: MESSAGE });
      assert.deepEqual(ls(store.outbound), []);
      assert.equal(ls(path.join(store.maildir('jane'), 'new')).length, 1);
    }),
  );

  test(
    'resolves only after every directory naming the message is fsynced; the incoming names are dropped after that',
    withStore(async (store, dataDir) => {
      const steps: string[] = [];
      const open = fsp.open;
      const unlink = fsp.unlink;
      const rel = (p: unknown) => path.relative(dataDir, String(p));
      const spyOpen = (p: Parameters<typeof fsp.open>[0], ...rest: unknown[]) => {
        if (fs.statSync(p as string, { throwIfNoEntry: false })?.isDirectory()) steps.push(`fsync ${rel(p)}`);
        return (open as (...a: unknown[]) => ReturnType<typeof fsp.open>).call(fsp, p, ...rest);
      };
      const spyUnlink = (p: Parameters<typeof fsp.unlink>[0]) => {
        steps.push(`unlink ${rel(p)}`);
        return unlink.call(fsp, p);
      };
      store.ensureMaildir('john'); // created (and fsynced) beforehand, like at start
      const restore = [replace(fsp, 'open', spyOpen), replace(fsp, 'unlink', spyUnlink)];
      let id = '';
      try {
        id = newQueueId();
        const local = [{ account: 'john', address: 'john.doe@doe-family.com' }];
        await store.commit({ id, from: 'a@example.net', client: '', local, remote: ['b@example.org'], data: MESSAGE });
        // The incoming names go after the commit resolved (the 250 does not wait for them).
        await store.settled();
      } finally {
        for (const r of restore) r();
      }
      // Two incoming names (the local copy, the outbound copy), dropped after every fsync.
      const unlinks = steps.filter((x) => x.startsWith('unlink '));
      assert.deepEqual(unlinks.sort(), [`unlink ${path.join('queue', 'incoming', id)}`, `unlink ${path.join('queue', 'incoming', `${id}.0`)}`].sort());
      assert.deepEqual(steps.slice(-2).sort(), unlinks, steps.join('\n'));
      assert.ok(steps.indexOf(`fsync ${path.join('maildir', 'john', 'new')}`) >= 0, steps.join('\n'));
      assert.ok(steps.indexOf(`fsync ${path.join('queue', 'outbound')}`) >= 0, steps.join('\n'));
    }),
  );

  test(
    'deliverLocal puts one message (a bounce, say) into an account’s Maildir',
    withStore(async (store) => {
      const file = await store.deliverLocal('john', 'john.doe@doe-family.com', MESSAGE);
      await store.settled();
      assert.equal(path.dirname(file), path.join(store.maildir('john'), 'new'));
      assert.equal(fs.readFileSync(file, 'latin1'), `Return-Path: <>\r\nDelivered-To: john.doe@doe-family.com\r\n${MESSAGE.toString('latin1')}`);
      assert.deepEqual(ls(store.incoming), []);
      assert.deepEqual(ls(store.outbound), []);
    }),
  );

  test('queue ids: 12 upper-case base-32 characters, unique and in time order', () => {
    const ids = Array.from({ length: 2000 }, () => newQueueId());
    for (const id of ids) assert.match(id, /^[0-9A-V]{12}$/);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids[0].slice(0, 9) <= ids.at(-1)!.slice(0, 9), 'the time part never goes back');
  });
});

/** Swaps a method for a test; returns the undo. */
function replace<T extends object, K extends keyof T>(obj: T, key: K, fn: unknown): () => void {
  const orig = obj[key];
  obj[key] = fn as T[K];
  return () => {
    obj[key] = orig;
  };
}

describe('IncomingPart: a small body stays in memory, a large one goes to its .part file', () => {
  const partFile = (store: MessageStore, id: string) => path.join(store.incoming, `${id}.part`);

  test(
    'a body up to the bound never touches the disk before the commit, and the stored message is whole',
    withStore(async (store) => {
      const id = newQueueId();
      const opened = mock.method(fs, 'createWriteStream');
      try {
        const part = store.incomingPart(id);
        const chunk = Buffer.alloc(BODY_IN_MEMORY_BYTES / 4, 'a');
        for (let i = 0; i < 4; i++) assert.equal(part.write(chunk), true);
        await store.commit({
          id,
          from: '',
          client: '',
          local: [{ account: 'john', address: 'john.doe@doe-family.com' }],
          remote: [],
          data: MESSAGE,
          body: part,
        });
        await part.discard();
        await store.settled();
        assert.equal(opened.mock.callCount(), 0, 'no spool file opened for a small body');
      } finally {
        opened.mock.restore();
      }
      const [file] = ls(path.join(store.maildir('john'), 'new'));
      const stored = fs.readFileSync(path.join(store.maildir('john'), 'new', file));
      assert.equal(stored.length, 'Return-Path: <>\r\nDelivered-To: john.doe@doe-family.com\r\n'.length + MESSAGE.length + BODY_IN_MEMORY_BYTES);
      assert.ok(stored.subarray(-BODY_IN_MEMORY_BYTES).every((b) => b === 0x61));
      assert.deepEqual(ls(store.incoming), [], 'nothing left in incoming');
    }),
  );

  test(
    'one byte past the bound: everything so far goes to the file, in order, and the commit copies it from there',
    withStore(async (store) => {
      const id = newQueueId();
      const part = store.incomingPart(id);
      part.write(Buffer.alloc(BODY_IN_MEMORY_BYTES, 'a'));
      assert.equal(fs.existsSync(partFile(store, id)), false);
      part.write(Buffer.from('Z'));
      assert.equal(part.inMemory(), null);
      await waitFor(() => fs.existsSync(partFile(store, id)), 5000, 'spilled to the spool file');
      await store.commit({ id, from: '', client: '', local: [], remote: ['aunt@example.net'], data: MESSAGE, body: part });
      await part.discard();
      const eml = fs.readFileSync(path.join(store.outbound, `${id}.eml`));
      assert.equal(eml.length, MESSAGE.length + BODY_IN_MEMORY_BYTES + 1);
      assert.equal(eml.subarray(MESSAGE.length, MESSAGE.length + 1).toString(), 'a');
      assert.equal(eml.subarray(-1).toString(), 'Z');
      assert.equal(fs.existsSync(partFile(store, id)), false, 'the .part file removed');
    }),
  );

  test(
    'a reader that needs a file gets one; a small body is given as bytes; nothing is kept after discard',
    withStore(async (store) => {
      const small = store.incomingPart(newQueueId());
      small.write(Buffer.from('hello\r\n'));
      assert.deepEqual(await small.source(), { bodyFile: null, body: Buffer.from('hello\r\n') });
      const id = newQueueId();
      const spilled = store.incomingPart(id);
      spilled.write(Buffer.from('hello\r\n'));
      const file = await spilled.finish();
      assert.equal(fs.readFileSync(file, 'latin1'), 'hello\r\n');
      assert.deepEqual(await spilled.source(), { bodyFile: partFile(store, id) });
      await spilled.discard();
      assert.equal(fs.existsSync(file), false);
      // Data that still arrives after a refusal makes no file.
      const opened = mock.method(fs, 'createWriteStream');
      try {
        const late = store.incomingPart(newQueueId());
        late.write(Buffer.from('a'));
        await late.discard();
        late.write(Buffer.alloc(BODY_IN_MEMORY_BYTES + 1));
        assert.equal(opened.mock.callCount(), 0, 'no spool file opened after discard');
      } finally {
        opened.mock.restore();
      }
    }),
  );
});

describe('MessageStore.recover at start', () => {
  test(
    'empties incoming, removes temp files and message files without an envelope, returns the queue',
    withStore(async (store) => {
      const kept = newQueueId();
      await store.commit({ id: kept, from: 'john.doe@doe-family.com', client: '192.168.1.20', local: [], remote: ['aunt@example.net'], data: MESSAGE });
      // What a crash can leave behind:
      fs.writeFileSync(path.join(store.incoming, 'NEVER250D000'), MESSAGE); // a reception without its 250
      fs.writeFileSync(path.join(store.outbound, 'ORPHAN000000.eml'), MESSAGE); // linked, envelope not yet written
      fs.writeFileSync(path.join(store.outbound, `${kept}.json.tmp`), '{"id":'); // an envelope rewrite cut short
      // And what a person may have done: a hand-edited envelope is left for them to look at.
      fs.writeFileSync(path.join(store.outbound, 'EDITED000000.json'), '{ not json');
      fs.writeFileSync(path.join(store.outbound, 'EDITED000000.eml'), MESSAGE);

      const again = new MessageStore(store.root);
      const r = again.recover();
      assert.equal(r.removedIncoming, 1);
      assert.deepEqual(
        r.outbound.map((e) => [e.id, e.recipients.map((x) => x.address)]),
        [[kept, ['aunt@example.net']]],
      );
      assert.deepEqual(ls(store.incoming), []);
      assert.deepEqual(ls(store.outbound), ['EDITED000000.eml', 'EDITED000000.json', `${kept}.eml`, `${kept}.json`].sort());
    }),
  );
});

describe('DirSyncer: directory fsyncs are group-committed', () => {
  /** Holds every fsync of `dir` until the test lets it go; counts them. */
  function gateFsyncs(dir: string, fail: (n: number) => Error | null = () => null) {
    const waiting: (() => void)[] = [];
    let started = 0;
    const open = fsp.open;
    const undo = replace(fsp, 'open', async (p: string, ...rest: unknown[]) => {
      if (p === dir) {
        const n = started++;
        await new Promise<void>((r) => waiting.push(r));
        const err = fail(n);
        if (err) throw err;
      }
      return (open as (...a: unknown[]) => ReturnType<typeof fsp.open>).call(fsp, p, ...rest);
    });
    return {
      started: () => started,
      /** Lets the oldest held fsync run. */
      release: async () => {
        await waitFor(() => waiting.length > 0, 5000, 'an fsync to start');
        waiting.shift()!();
      },
      undo,
    };
  }

  test('callers that arrive during an fsync share the next one: ten calls, two fsyncs', async () => {
    const dir = tempDir('postern-sync-');
    const gate = gateFsyncs(dir);
    try {
      const s = new DirSyncer();
      const done: number[] = [];
      const first = s.sync(dir).then(() => done.push(0));
      const rest = Array.from({ length: 9 }, (_, i) => s.sync(dir).then(() => done.push(i + 1)));
      await gate.release();
      await first;
      assert.deepEqual(done, [0], 'the later callers wait for an fsync that started after they asked');
      await gate.release();
      await Promise.all(rest);
      assert.equal(done.length, 10);
      assert.equal(gate.started(), 2);
      // Once idle, the next caller gets an fsync of its own.
      const later = s.sync(dir);
      await gate.release();
      await later;
      assert.equal(gate.started(), 3);
    } finally {
      gate.undo();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('different directories are not batched together', async () => {
    const a = tempDir('postern-sync-');
    const b = tempDir('postern-sync-');
    const opened: string[] = [];
    const open = fsp.open;
    const undo = replace(fsp, 'open', (p: string, ...rest: unknown[]) => {
      opened.push(p);
      return (open as (...x: unknown[]) => ReturnType<typeof fsp.open>).call(fsp, p, ...rest);
    });
    try {
      const s = new DirSyncer();
      await Promise.all([s.sync(a), s.sync(b), s.sync(a)]);
      assert.equal(opened.filter((p) => p === b).length, 1);
      assert.ok(opened.filter((p) => p === a).length >= 1);
    } finally {
      undo();
      for (const d of [a, b]) fs.rmSync(d, { recursive: true, force: true });
    }
  });

  test('a failed fsync rejects its callers; those waiting for the next one get a fresh try', async () => {
    const dir = tempDir('postern-sync-');
    const gate = gateFsyncs(dir, (n) => (n === 0 ? Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }) : null));
    try {
      const s = new DirSyncer();
      const first = s.sync(dir);
      const firstResult = first.then(
        () => 'resolved',
        (e: NodeJS.ErrnoException) => e.code,
      );
      const next = [s.sync(dir), s.sync(dir)];
      await gate.release();
      assert.equal(await firstResult, 'EIO', 'the caller learns its data is not known to be on disk');
      await gate.release();
      await Promise.all(next);
      assert.equal(gate.started(), 2);
    } finally {
      gate.undo();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a directory that does not exist: every caller of the batch gets the error, the syncer keeps working', async () => {
    const base = tempDir('postern-sync-');
    try {
      const s = new DirSyncer();
      const gone = path.join(base, 'gone');
      const results = await Promise.allSettled([s.sync(gone), s.sync(gone), s.sync(gone)]);
      assert.deepEqual(
        results.map((r) => (r.status === 'rejected' ? (r.reason as NodeJS.ErrnoException).code : 'ok')),
        ['ENOENT', 'ENOENT', 'ENOENT'],
      );
      fs.mkdirSync(gone);
      await s.sync(gone);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
