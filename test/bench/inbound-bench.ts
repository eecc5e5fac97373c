// `node test/bench/inbound-bench.ts`: what each inbound check (docs/design.md §2.10–§2.13)
// costs clean Internet mail. One in-process gateway per configuration, loopback only:
// clients arrive through a PROXY header (each connection its own Internet address, so
// the per-client limits are not what is measured), the test DNS server answers SPF,
// DMARC, DNSBL and PTR; rspamd is Debian's (test/support/rspamd.ts). Each connection
// sends BENCH_PER messages of ~4 KiB to a local Maildir; BENCH_CONC connections at once.
// Prints messages/s and the median / p95 end-of-data → reply per configuration.
import { RawSmtp } from '../support/smtp-client.ts';
import { FAMILY, startGateway } from '../support/gateway.ts';
import { startDnsServer } from '../support/dns-server.ts';
import { startRspamd } from '../support/rspamd.ts';
import { createSpfCheckFactory } from '../../core/spf/check.ts';
import { requireTools } from '../support/tools.ts';

const TOTAL = Number(process.env.BENCH_MSGS ?? 600);
const CONC = Number(process.env.BENCH_CONC ?? 10);
const PER = Number(process.env.BENCH_PER ?? 10);
const body = `${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(70)}\r\n`.slice(0, 4000);

const ipOf = (i: number) => `198.51.${100 + (i % 50)}.${1 + (Math.floor(i / 50) % 250)}`;
const rev = (ip: string) => ip.split('.').reverse().join('.');

async function main() {
  requireTools('rspamd');
  const zone: Parameters<typeof startDnsServer>[0] = {
    'sender.example': { TXT: ['v=spf1 ip4:198.51.0.0/16 -all'], MX: [{ priority: 10, exchange: 'mail.sender.example' }], A: ['198.51.100.1'] },
    '_dmarc.sender.example': { TXT: ['v=DMARC1; p=reject'] },
  };
  for (let i = 0; i < TOTAL / PER + 50; i++) zone[`${rev(ipOf(i))}.in-addr.arpa`] = { PTR: ['mail.sender.example'] };
  const dns = await startDnsServer(zone);
  const rspamd = await startRspamd({ dnsServer: dns.address });
  const off = {
    dmarc: { enforce: false },
    rateLimits: { connectionsPerMinute: 0, networkConnectionsPerMinute: 0, messagesPerMinute: 0, networkMessagesPerMinute: 0 },
  };
  const configs: [string, Record<string, unknown>][] = [
    ['baseline (SPF + DKIM/DMARC reported, no inbound check)', { ...off }],
    ['+ DMARC enforced', { ...off, dmarc: { enforce: true } }],
    [
      '+ DNSBL (2 zones)',
      {
        ...off,
        dnsbl: {
          zones: [
            { zone: 'bl.example', weight: 1 },
            { zone: 'bl2.example', weight: 1 },
          ],
        },
      },
    ],
    ['+ rate limits (defaults)', { dmarc: { enforce: false } }],
    ['+ rspamd', { ...off, rspamd: { enabled: true, url: rspamd.url } }],
    [
      'all on',
      {
        dnsbl: {
          zones: [
            { zone: 'bl.example', weight: 1 },
            { zone: 'bl2.example', weight: 1 },
          ],
        },
        rspamd: { enabled: true, url: rspamd.url },
      },
    ],
  ];
  try {
    console.log(`${TOTAL} messages of ${body.length} bytes, ${CONC} connections at once, ${PER} per connection; node ${process.version}`);
    for (const [name, extra] of configs) {
      const t = await startGateway(
        {
          ...FAMILY,
          internalNetworks: [],
          trustedProxies: ['127.0.0.1'],
          dns: { servers: [dns.address], timeoutMs: 2000 },
          limits: { maxClients: 500, maxConnectionsPerClient: 500, maxConnectionsPerNetwork: 500 },
          ...extra,
        },
        { spfFactory: createSpfCheckFactory() },
      );
      try {
        await run(t.port(), 20, 0); // warm-up (rspamd's first scans, worker threads)
        const lat: number[] = [];
        const t0 = process.hrtime.bigint();
        await run(t.port(), TOTAL, 1000, lat);
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        lat.sort((a, b) => a - b);
        console.log(
          `${name.padEnd(56)} ${(TOTAL / s).toFixed(1).padStart(7)} msg/s   median ${lat[Math.floor(lat.length / 2)].toFixed(1)} ms   p95 ${lat[Math.floor(lat.length * 0.95)].toFixed(1)} ms`,
        );
      } finally {
        await t.stop();
      }
    }
  } finally {
    await rspamd.stop();
    await dns.close();
  }
}

async function run(port: number, total: number, offset: number, lat: number[] = []): Promise<void> {
  let next = 0;
  const conns = Math.ceil(total / PER);
  let conn = 0;
  const worker = async () => {
    while (conn < conns) {
      const i = offset + conn++;
      const c = await RawSmtp.connect({ port, preamble: `PROXY TCP4 ${ipOf(i)} 127.0.0.1 40000 25\r\n` });
      await c.cmd('EHLO mail.sender.example');
      for (let k = 0; k < PER && next < total; k++, next++) {
        if ((await c.cmd('MAIL FROM:<news@sender.example>')).code !== 250) throw new Error('MAIL refused');
        if ((await c.cmd('RCPT TO:<john.doe@doe-family.com>')).code !== 250) throw new Error('RCPT refused');
        await c.cmd('DATA');
        const msg = `From: News <news@sender.example>\r\nTo: John <john.doe@doe-family.com>\r\nSubject: Newsletter ${i}.${k}\r\nDate: ${new Date().toUTCString().replace('GMT', '+0000')}\r\nMessage-ID: <${i}.${k}.${Date.now()}@sender.example>\r\n\r\n${body}\r\n.`;
        const t0 = process.hrtime.bigint();
        const r = await c.cmd(msg, 30_000);
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (r.code !== 250) throw new Error(`message refused: ${r.code} ${r.text}`);
      }
      await c.quit();
    }
  };
  await Promise.all(Array.from({ length: CONC }, worker));
}

await main();
