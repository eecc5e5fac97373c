// Dovecot as the family's IMAP server, reading Postern's Maildirs as they are on disk
// (mail_location = maildir:<dataDir>/maildir/%u): a private instance with a minimal
// config in a temp dir, on a free loopback port, any password accepted (passdb static),
// stopped by pid. Dovecot refuses mail access as root, so under root the mail is read
// as `nobody`: the Maildir it reads is handed to that user first (readable()).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from './gateway.ts';
import { freePort } from './smtp-sink.ts';
import { requireTools } from './tools.ts';

export interface Dovecot {
  port: number;
  /** Lets Dovecot's mail user read and index `maildir/<account>` (and reach it). */
  readable(account: string): void;
  log(): string;
  stop(): Promise<void>;
}

const ROOT = process.getuid?.() === 0;

export async function startDovecot(dataDir: string): Promise<Dovecot> {
  requireTools('dovecot');
  const dir = tempDir('postern-dovecot-');
  const port = await freePort();
  const user = ROOT ? 'nobody' : os.userInfo().username;
  const group = ROOT
    ? spawnSync('id', ['-gn', 'nobody'], { encoding: 'utf8' }).stdout.trim() || 'nogroup'
    : spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  const conf = path.join(dir, 'dovecot.conf');
  fs.writeFileSync(
    conf,
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      'protocols = imap',
      'listen = 127.0.0.1',
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain',
      `mail_location = maildir:${dataDir}/maildir/%u`,
      'first_valid_uid = 1',
      ...(ROOT ? [] : [`default_login_user = ${user}`, `default_internal_user = ${user}`]),
      'passdb {',
      '  driver = static',
      '  args = password=imap-test',
      '}',
      'userdb {',
      '  driver = static',
      `  args = uid=${user} gid=${group} home=${dataDir}/maildir/%u`,
      '}',
      'service imap-login {',
      '  inet_listener imap {',
      '    address = 127.0.0.1',
      `    port = ${port}`,
      '  }',
      '  inet_listener imaps {',
      '    port = 0',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  fs.mkdirSync(path.join(dir, 'run'), { mode: 0o755 });
  fs.mkdirSync(path.join(dir, 'state'), { mode: 0o755 });
  const child: ChildProcess = spawn('/usr/sbin/dovecot', ['-F', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const log = () => output + (fs.existsSync(path.join(dir, 'dovecot.log')) ? fs.readFileSync(path.join(dir, 'dovecot.log'), 'utf8') : '');
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`dovecot exited: ${log()}`);
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    readable(account: string) {
      if (!ROOT) return;
      // Every folder above the Maildir must be passable for the mail user.
      for (let d = path.join(dataDir, 'maildir'); d !== path.dirname(d); d = path.dirname(d)) {
        const mode = fs.statSync(d).mode & 0o777;
        if ((mode & 0o001) === 0) fs.chmodSync(d, mode | 0o001);
      }
      spawnSync('chown', ['-R', `${user}:${group}`, path.join(dataDir, 'maildir', account)]);
    },
    log,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A tiny IMAP client (RFC 9051 commands, tagged replies, literals) over net.Socket: enough
 * to log in, select and fetch, and to show what Dovecot itself says.
 */
export class Imap {
  private socket: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private tag = 0;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(port: number): Promise<Imap> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    const c = new Imap(socket);
    await c.until((text) => /^\* OK[^\r\n]*\r\n/.test(text));
    return c;
  }

  private async until(done: (text: string) => boolean, ms = 5000): Promise<string> {
    const t0 = Date.now();
    while (!done(this.buf.toString('latin1'))) {
      if (Date.now() - t0 > ms) throw new Error(`IMAP: no complete reply: ${this.buf.toString('latin1')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    const text = this.buf.toString('latin1');
    this.buf = Buffer.alloc(0);
    return text;
  }

  /** Sends one command; resolves with everything up to and including its tagged reply. */
  async cmd(line: string): Promise<{ status: string; text: string }> {
    const tag = `a${++this.tag}`;
    this.socket.write(`${tag} ${line}\r\n`);
    const re = new RegExp(`(?:^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n$`);
    const text = await this.until((t) => re.test(t));
    return { status: re.exec(text)![1], text };
  }

  /** The first literal (`{n}\r\n` + n bytes) of a FETCH reply. */
  static literal(text: string): string {
    const m = /\{(\d+)\}\r\n/.exec(text);
    if (!m) throw new Error(`no literal in ${text}`);
    return text.slice(m.index + m[0].length, m.index + m[0].length + Number(m[1]));
  }

  close(): void {
    this.socket.destroy();
  }
}
