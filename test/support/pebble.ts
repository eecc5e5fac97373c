// Debian's pebble (Let's Encrypt's test ACME server) on loopback for the ACME tests
// (docs/design.md §2.5): its own HTTPS certificate from a throwaway CA made with openssl
// (the package ships no test certificates; Postern trusts the CA through acme.caFile),
// `-dnsserver` pointed at the test DNS server, `httpPort` = the port Postern's HTTP-01
// responder opens. PEBBLE_VA_NOSLEEP=1: validation at once; nonces never rejected at random.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { freePort } from './smtp-sink.ts';
import { waitFor } from './wait.ts';

export interface Pebble {
  directory: string;
  /** The CA of pebble's own HTTPS listener (for acme.caFile). */
  caFile: string;
  /** pebble's issuing root, from the management interface (/roots/0). */
  root(): Promise<string>;
  /** Stops pebble (by its pid) and waits for it to exit. */
  stop(): Promise<void>;
  log(): string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('/usr/bin/openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA and a certificate for 127.0.0.1/localhost signed by it, in `dir`. */
export function makeServerCa(dir: string): { caFile: string; certFile: string; keyFile: string } {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=pebble test CA',
    ],
    dir,
  );
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'],
    dir,
  );
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf'],
    dir,
  );
  return { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') };
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

export async function startPebble(dir: string, o: { dnsServer: string; httpPort: number }): Promise<Pebble> {
  const certs = makeServerCa(dir);
  const [port, mgmt, tlsPort] = [await freePort(), await freePort(), await freePort()];
  const config = path.join(dir, 'pebble-config.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: certs.certFile,
        privateKey: certs.keyFile,
        httpPort: o.httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  let out = '';
  const child: ChildProcess = spawn('/usr/bin/pebble', ['-config', config, '-dnsserver', o.dnsServer], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ca = fs.readFileSync(certs.caFile, 'utf8');
  const directory = `https://127.0.0.1:${port}/dir`;
  await waitFor(
    () =>
      get(directory, ca).then(
        (r) => r.status === 200,
        () => false,
      ),
    20_000,
    `pebble to answer on ${directory}`,
    100,
  ).catch((e: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${e.message}\n${out}`);
  });
  return {
    directory,
    caFile: certs.caFile,
    async root() {
      const r = await get(`https://127.0.0.1:${mgmt}/roots/0`, ca);
      if (r.status !== 200) throw new Error(`pebble /roots/0: ${r.status}`);
      return r.body;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
    },
    log: () => out,
  };
}

export interface SClient {
  ok: boolean;
  /** The leaf certificate the server sent (PEM). */
  leaf: string;
  output: string;
}

/** `openssl s_client` with -verify_return_error against `caFile`, checking the host name too. */
export function sClient(port: number, caFile: string, host: string, starttls: boolean): Promise<SClient> {
  return new Promise((resolve) => {
    const args = [
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-servername',
      host,
      '-verify_hostname',
      host,
      '-CAfile',
      caFile,
      '-verify_return_error',
      '-showcerts',
      ...(starttls ? ['-starttls', 'smtp'] : []),
    ];
    const child = spawn('/usr/bin/openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    // QUIT after the handshake; s_client exits at end of input.
    child.stdin.end('QUIT\r\n');
    child.on('exit', (code) => {
      const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output)?.[0] ?? '';
      resolve({ ok: code === 0 && /Verify return code: 0 \(ok\)/.test(output), leaf, output });
    });
  });
}
