// One DNS exchange with one server, over UDP or TCP, bounded by a deadline. Every
// path ends in exactly one settle of the promise and closes its socket.
import dgram from 'node:dgram';
import net from 'node:net';

export interface ServerAddress {
  host: string;
  port: number;
}

export type ExchangeError = Error & { code: 'ETIMEOUT' | 'ECONNREFUSED' | 'ECONNRESET' | 'EBADRESP' | string };

function exchangeError(code: string, message: string): ExchangeError {
  const e = new Error(message) as ExchangeError;
  e.code = code;
  return e;
}

/**
 * Sends `query` over UDP and resolves with the first datagram `accept` returns a
 * value for (others are ignored: late replies, spoofed packets). The socket is
 * connected so ICMP port-unreachable surfaces as ECONNREFUSED and datagrams from
 * other addresses never reach us.
 */
export function udpExchange<T>(server: ServerAddress, query: Buffer, timeoutMs: number, accept: (reply: Buffer) => T | null): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (err: Error | null, value?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // already closed
      }
      if (err) reject(err);
      else resolve(value as T);
    };
    const timer = setTimeout(() => finish(exchangeError('ETIMEOUT', `no reply from ${server.host}:${server.port} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (e: NodeJS.ErrnoException) => finish(exchangeError(e.code ?? 'ECONNREFUSED', e.message)));
    socket.on('message', (msg) => {
      const v = accept(msg);
      if (v !== null) finish(null, v);
    });
    // A failed connect (no route to the server) calls back *with the error* instead of
    // emitting 'error'; sending on that unconnected socket would throw.
    const onConnect = (err?: NodeJS.ErrnoException) => {
      if (err) return finish(exchangeError(err.code ?? 'ECONNREFUSED', err.message));
      try {
        socket.send(query, (e) => {
          if (e) finish(exchangeError((e as NodeJS.ErrnoException).code ?? 'ECONNREFUSED', e.message));
        });
      } catch (e) {
        finish(exchangeError((e as NodeJS.ErrnoException).code ?? 'ECONNREFUSED', (e as Error).message));
      }
    };
    socket.connect(server.port, server.host, onConnect as () => void);
  });
}

/** Sends `query` over TCP (RFC 1035 §4.2.2: two-byte length prefix) and reads one reply. */
export function tcpExchange<T>(server: ServerAddress, query: Buffer, timeoutMs: number, accept: (reply: Buffer) => T | null): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let done = false;
    let buf = Buffer.alloc(0);
    const finish = (err: Error | null, value?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const timer = setTimeout(() => finish(exchangeError('ETIMEOUT', `no reply from ${server.host}:${server.port} (TCP) within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (e: NodeJS.ErrnoException) => finish(exchangeError(e.code ?? 'ECONNREFUSED', e.message)));
    socket.on('close', () => finish(exchangeError('ECONNRESET', `${server.host}:${server.port} closed the TCP connection without a reply`)));
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      socket.write(Buffer.concat([len, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < 2 + n) return;
        const msg = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        const v = accept(msg);
        if (v !== null) return finish(null, v);
      }
    });
  });
}
