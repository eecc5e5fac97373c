// A raw SMTP client for tests that must control every byte (relay tricks,
// smuggling, hostile input). For ordinary sending the tests use nodemailer and swaks.
import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  code: number;
  lines: string[];
  text: string;
}

export interface RawOptions {
  port: number;
  host?: string;
  localAddress?: string;
  /** Bytes to send before reading the greeting (a PROXY header). */
  preamble?: string;
  tls?: boolean;
  timeoutMs?: number;
}

export class RawSmtp {
  private socket: net.Socket | tls.TLSSocket;
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  greeting!: Reply;

  private constructor(socket: net.Socket | tls.TLSSocket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async connect(o: RawOptions): Promise<RawSmtp> {
    const host = o.host ?? '127.0.0.1';
    const socket = await new Promise<net.Socket | tls.TLSSocket>((resolve, reject) => {
      const s = o.tls
        ? tls.connect({ port: o.port, host, localAddress: o.localAddress, rejectUnauthorized: false } as tls.ConnectionOptions, () => resolve(s))
        : net.connect({ port: o.port, host, localAddress: o.localAddress }, () => resolve(s));
      s.once('error', reject);
    });
    const c = new RawSmtp(socket);
    if (o.preamble) c.write(o.preamble);
    c.greeting = await c.read(o.timeoutMs);
    return c;
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Reads one (possibly multi-line) reply. */
  async read(timeoutMs = 5000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*(\d{3})(?: [^\r\n]*)?\r\n/.exec(this.buf);
      if (m) {
        const raw = m[0];
        this.buf = this.buf.slice(raw.length);
        const lines = raw.split('\r\n').filter(Boolean);
        return { code: Number(m[1]), lines, text: lines.map((l) => l.slice(4)).join('\n') };
      }
      if (this.closed) return { code: 0, lines: [], text: 'connection closed' };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SMTP reply within ${timeoutMs} ms (buffer: ${JSON.stringify(this.buf)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async cmd(line: string, timeoutMs?: number): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read(timeoutMs);
  }

  /** STARTTLS and upgrade this client's socket. */
  async starttls(): Promise<Reply> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) return r;
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    this.socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const t = tls.connect({ socket: plain, rejectUnauthorized: false }, () => resolve(t));
      t.once('error', reject);
    });
    this.attach(this.socket);
    return r;
  }

  get tlsSocket(): tls.TLSSocket | null {
    return this.socket instanceof tls.TLSSocket ? this.socket : null;
  }

  async quit(): Promise<void> {
    if (!this.closed) {
      try {
        await this.cmd('QUIT', 2000);
      } catch {
        // the server may already have closed
      }
    }
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** EHLO, MAIL, RCPT…, DATA, body: returns each reply. */
export async function transaction(c: RawSmtp, from: string, to: string[], body?: string): Promise<{ mail: Reply; rcpts: Reply[]; data?: Reply; end?: Reply }> {
  const mail = await c.cmd(`MAIL FROM:<${from}>`);
  const rcpts: Reply[] = [];
  for (const t of to) rcpts.push(await c.cmd(`RCPT TO:<${t}>`));
  if (body === undefined) return { mail, rcpts };
  const data = await c.cmd('DATA');
  if (data.code !== 354) return { mail, rcpts, data };
  c.write(`${body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.\r\n`);
  return { mail, rcpts, data, end: await c.read() };
}
