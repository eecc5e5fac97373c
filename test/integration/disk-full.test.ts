// A disk that fills (docs/design.md §3.6): the data dir on a small tmpfs (8 MB), the
// bound set low (limits.minFreeBytes). Mail is sent until MAIL FROM gets 452 4.3.1;
// every message that got a 250 is intact in the Maildir; the status, the live log and
// the setup check say why; once space is freed, mail is accepted again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FAMILY, startGateway, tempDir, type TestGateway } from '../support/gateway.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';
import { doctorForGateway } from '../../core/doctor/checks.ts';
import { diskCheck } from '../../core/doctor/disk-check.ts';
import { describeDisk } from '../../core/disk/describe.ts';

const MB = 1024 * 1024;
const MIN_FREE = 2 * MB;

let mnt: string;
let mounted = false;
let t: TestGateway | null = null;

before(async () => {
  assert.equal(process.getuid?.(), 0, 'mounting the small file system needs root (npm test runs as root)');
  mnt = tempDir('postern-disk-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mnt], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount -t tmpfs failed: ${r.stderr}`);
  mounted = true;
  t = await startGateway({ ...FAMILY, limits: { minFreeBytes: MIN_FREE, maxMessageBytes: 2 * MB } }, { dataDir: path.join(mnt, 'data'), diskCheckMs: 50 });
});

after(async () => {
  await t?.gw.stop();
  if (mounted) spawnSync('umount', [mnt]);
  fs.rmSync(mnt, { recursive: true, force: true });
});

/** One message to john; resolves with the reply codes and what was sent. */
async function send(c: RawSmtp, n: number): Promise<{ mail: number; end?: number; token: string; body: string }> {
  const token = `disk-${n}-${crypto.randomBytes(4).toString('hex')}`;
  const mail = (await c.cmd('MAIL FROM:<jane.doe@doe-family.com>')).code;
  if (mail !== 250) return { mail, token, body: '' };
  assert.equal((await c.cmd('RCPT TO:<john.doe@doe-family.com>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  // ~300 kB of lines that differ, so a torn or truncated copy cannot pass for whole
  const lines: string[] = [];
  for (let i = 0; i < 4000; i++) lines.push(`${token} line ${i} ${crypto.createHash('sha256').update(`${token}${i}`).digest('hex')}`);
  const body = `${lines.join('\r\n')}\r\n`;
  c.write(`Subject: ${token}\r\nMessage-ID: <${token}@test>\r\n\r\n${body}.\r\n`);
  const end = (await c.read(15_000)).code;
  return { mail, end, token, body };
}

function storedWith(token: string): string[] {
  const dir = path.join(t!.dataDir, 'maildir', 'john', 'new');
  return fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'latin1'))
    .filter((m) => m.includes(`Subject: ${token}\r\n`));
}

test('below the bound MAIL FROM gets 452 4.3.1; nothing that got a 250 is lost; freeing space lets mail in again', async () => {
  const gw = t!.gw;
  const acked: { token: string; body: string }[] = [];
  const c = await RawSmtp.connect({ port: t!.port() });
  await c.cmd('EHLO family.lan');
  let refused = null as Awaited<ReturnType<typeof send>> | null;
  for (let n = 0; n < 100 && !refused; n++) {
    const r = await send(c, n);
    if (r.mail === 452) refused = r;
    else if (r.end === 250) acked.push({ token: r.token, body: r.body });
    else assert.equal(r.end, 451, `a message is either stored (250) or not (451), got ${r.end}`);
  }
  assert.ok(refused, 'the disk never counted as full');
  assert.ok(acked.length >= 5, `only ${acked.length} message(s) fit`);

  // The reply and why: rule 'disk' in the live log, the status, the setup check.
  const mailEvent = gw.bus.recent().findLast((e) => e.stage === 'mail');
  assert.equal(mailEvent?.rule, 'disk');
  assert.equal(mailEvent?.code, 452);
  assert.equal(mailEvent?.text, '4.3.1 Insufficient system storage');
  assert.ok(gw.bus.recent().some((e) => e.stage === 'system' && e.rule === 'disk' && e.verdict === 'reject' && /452 4\.3\.1/.test(e.text)));
  const st = gw.status().disk!;
  assert.equal(st.ok, false);
  assert.ok(st.freeBytes < MIN_FREE, `${st.freeBytes}`);
  const d = await diskCheck({ config: gw.config(), dataDir: gw.dataDir } as never);
  assert.equal(d.id, 'disk');
  assert.equal(d.status, 'fail', d.detail);
  assert.match(d.detail, /tmpfs/);
  assert.match(d.detail, /new mail is refused \(452 4\.3\.1/);
  assert.ok(d.fix);

  // Nothing acknowledged is lost: each 250 is one whole copy in john's Maildir.
  for (const a of acked) {
    const copies = storedWith(a.token);
    assert.equal(copies.length, 1, `${a.token}: ${copies.length} copies`);
    assert.ok(copies[0].endsWith(a.body), `${a.token} is not intact`);
  }

  // Free space (the family deletes old mail): mail is accepted again.
  const dir = path.join(t!.dataDir, 'maildir', 'john', 'new');
  for (const f of fs.readdirSync(dir).slice(0, 10)) fs.unlinkSync(path.join(dir, f));
  await waitFor(() => gw.status().disk?.ok === true, 10_000, 'the disk to count as not full');
  assert.ok(gw.bus.recent().some((e) => e.stage === 'system' && e.rule === 'disk' && e.verdict === 'info' && /accepted again/.test(e.text)));
  const again = await send(c, 1000);
  assert.equal(again.mail, 250);
  assert.equal(again.end, 250);
  assert.equal(storedWith(again.token).length, 1);
  await c.quit();
});

test('the setup check describes the file system of the data dir (tmpfs, which df leaves out): a warning on 8 MB', async () => {
  const gw = t!.gw;
  const r = await doctorForGateway(gw);
  const d = r.checks.find((x) => x.id === 'disk')!;
  assert.equal(d.title, 'Disk space');
  assert.equal(d.status, 'warn', d.detail);
  assert.match(d.detail, new RegExp(`on ${mnt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(tmpfs`));
  // The description finds the mount by its device even where df leaves it out (tmpfs).
  const desc = await describeDisk(gw.dataDir);
  assert.equal(desc.mount, mnt);
  assert.equal(desc.type, 'tmpfs');
  assert.equal(desc.sizeBytes, 8 * MB);
});
