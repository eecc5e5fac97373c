// A client for saslauthd's Unix-socket protocol (cyrus-sasl saslauthd-unix.c):
// the request is four counted strings — login, password, service, realm — each a
// 16-bit network-order length and the bytes; the answer is one counted string that
// starts with "OK" or "NO". Spoken directly: no child process, so no password on
// a command line (vSMTP 1.x ran `testsaslauthd -p <password>`).
import net from 'node:net';

export interface SaslauthdRequest {
  socket: string;
  login: string;
  password: string;
  service: string;
  realm: string;
  timeoutMs?: number;
}

export type SaslauthdResult = { status: 'ok'; message: string } | { status: 'no'; message: string } | { status: 'error'; message: string };

// saslauthd's MAX_REQ_LEN: a longer field makes it drop the request.
const MAX_FIELD = 256;

function counted(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

export function saslauthdVerify(req: SaslauthdRequest): Promise<SaslauthdResult> {
  const fields = [req.login, req.password, req.service, req.realm];
  if (fields.some((f) => Buffer.byteLength(f) > MAX_FIELD)) {
    return Promise.resolve({ status: 'no', message: 'field too long' });
  }
  return new Promise((resolve) => {
    let done = false;
    const chunks: Buffer[] = [];
    const finish = (r: SaslauthdResult) => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve(r);
    };
    const sock = net.createConnection({ path: req.socket });
    sock.setTimeout(req.timeoutMs ?? 5000, () => finish({ status: 'error', message: `saslauthd at ${req.socket} did not answer in time` }));
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ status: 'error', message: `saslauthd at ${req.socket}: ${e.code ?? e.message}` }));
    sock.on('connect', () => sock.end(Buffer.concat(fields.map(counted))));
    sock.on('data', (d) => {
      chunks.push(d);
      const buf = Buffer.concat(chunks);
      if (buf.length < 2) return;
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) return;
      const answer = buf.subarray(2, 2 + len).toString('utf8');
      if (answer.startsWith('OK')) finish({ status: 'ok', message: answer.slice(2).trim() });
      else if (answer.startsWith('NO')) finish({ status: 'no', message: answer.slice(2).trim() });
      else finish({ status: 'error', message: `saslauthd answered "${answer.slice(0, 40)}"` });
    });
    sock.on('close', () => finish({ status: 'error', message: `saslauthd at ${req.socket} closed the connection without an answer` }));
  });
}
