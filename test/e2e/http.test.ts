// The headless dashboard's HTTP surface (core/http/server.ts) on an ephemeral
// loopback port: the token, the Host guard, CSP, limits, the API envelope, and the
// live stream's coalescing and fan-out rules.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startStack, type Stack, DIST, ensureRenderer } from './support.ts';
import { createApi } from '../../core/api-impl.ts';
import { startDashboard, CSP, MAX_BODY_BYTES } from '../../core/http/server.ts';
import { INTERNET } from '../support/gateway.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request (fetch would not let us set Host or send odd paths). */
function request(port: number, o: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path, headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (o.body) req.write(o.body);
    req.end();
  });
}

/** Reads an SSE stream, collecting each `data:` message with its arrival time. */
function openStream(port: number, token: string) {
  const messages: { at: number; msg: { type: string; events?: { id: number }[]; status?: unknown } }[] = [];
  let status = 0;
  let buf = '';
  let closed = false;
  const req = http.request({ host: '127.0.0.1', port, path: `/api/stream?token=${encodeURIComponent(token)}` });
  const ready = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) messages.push({ at: Date.now(), msg: JSON.parse(line.slice(6)) });
        }
      });
      res.on('close', () => (closed = true));
      resolve();
    });
    req.on('error', reject);
  });
  req.end();
  return {
    ready,
    messages,
    get status() {
      return status;
    },
    get closed() {
      return closed;
    },
    eventIds: () => messages.flatMap((m) => (m.msg.type === 'events' ? m.msg.events!.map((e) => e.id) : [])),
    close: () => req.destroy(),
  };
}

const waitFor = async (cond: () => boolean, ms = 5000, what = 'condition') => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

let s: Stack;
let port: number;
let auth: Record<string, string>;
before(async () => {
  await ensureRenderer();
  s = await startStack();
  port = s.dash.port;
  auth = { authorization: `Bearer ${s.dash.token}`, 'content-type': 'application/json' };
});
after(() => s.stop());

describe('access token', () => {
  test('the printed URL is loopback with a long random token', () => {
    assert.match(s.dash.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    assert.equal(new URL(s.dash.url).searchParams.get('token'), s.dash.token);
  });

  test('with the token, the API answers with the envelope', async () => {
    const r = await request(port, { method: 'POST', path: '/api/status', headers: auth });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body);
    assert.equal(body.ok, true);
    assert.equal(body.value.hostname, 'mx.doe-family.com');
    assert.equal(body.value.state, 'running');
  });

  for (const [name, headers] of [
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
    ['the token in the query instead of the header', {}],
    ['a token one character short', null],
  ] as const) {
    test(`${name}: 401 and no data, for the API and the stream`, async () => {
      const h: Record<string, string> = headers ?? { authorization: `Bearer ${s.dash.token.slice(0, -1)}` };
      const q = name.startsWith('the token in the query') ? `?token=${s.dash.token}` : '';
      for (const method of ['status', 'events', 'networks', 'settings', 'nope']) {
        const r = await request(port, { method: 'POST', path: `/api/${method}${q}`, headers: { ...h, 'content-type': 'application/json' }, body: '{}' });
        assert.equal(r.status, 401, `${method}: ${r.body}`);
        assert.deepEqual(JSON.parse(r.body), { ok: false, error: { code: 'unauthorized', message: 'missing or wrong access token' } });
        assert.doesNotMatch(r.body, /doe-family|running|counters/);
      }
      const badStreamToken = headers === null ? s.dash.token.slice(0, -1) : 'wrong';
      const r = await request(port, { path: `/api/stream?token=${badStreamToken}` });
      assert.equal(r.status, 401);
      assert.doesNotMatch(r.body, /doe-family|running|counters|data:/);
      const none = await request(port, { path: '/api/stream' });
      assert.equal(none.status, 401);
    });
  }

  test('static files need no token and carry no data', async () => {
    const r = await request(port, { path: '/' });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] ?? '', /^text\/html/);
    assert.doesNotMatch(r.body, /doe-family|127\.0\.0\.2|token=/);
    const js = /src="\.\/(assets\/[^"]+\.js)"/.exec(r.body);
    assert.ok(js, 'index.html references its script');
    const a = await request(port, { path: `/${js[1]}` });
    assert.equal(a.status, 200);
    assert.match(a.headers['content-type'] ?? '', /^text\/javascript/);
    assert.match(a.headers['cache-control'] ?? '', /immutable/);
    assert.doesNotMatch(a.body, /mx\.doe-family\.com/);
  });
});

describe('browser-facing guards', () => {
  test('every answer carries the strict CSP and no CORS header', async () => {
    const answers = [
      await request(port, { path: '/' }),
      await request(port, { method: 'POST', path: '/api/status', headers: auth }),
      await request(port, { method: 'POST', path: '/api/status' }),
      await request(port, { path: '/nothing-here' }),
      await request(port, {
        method: 'OPTIONS',
        path: '/api/status',
        headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      }),
    ];
    for (const r of answers) {
      assert.equal(r.headers['content-security-policy'], CSP);
      assert.match(CSP, /default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'/);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['referrer-policy'], 'no-referrer');
      for (const h of Object.keys(r.headers)) assert.doesNotMatch(h, /^access-control-/);
    }
    // A CORS pre-flight is not approved.
    assert.notEqual(answers[4].status, 200);
    assert.notEqual(answers[4].status, 204);
  });

  test('a Host header that is not the bound loopback address gets 403 (DNS rebinding)', async () => {
    for (const host of [
      `evil.example:${port}`,
      `evil.example`,
      `127.0.0.1:${port + 1 === 65536 ? 1 : port + 1}`,
      `192.168.1.10:${port}`,
      `127.0.0.1.nip.io:${port}`,
    ]) {
      for (const path of ['/', '/api/status', `/api/stream?token=${s.dash.token}`]) {
        const r = await request(port, { method: path === '/api/status' ? 'POST' : 'GET', path, headers: { ...auth, host } });
        assert.equal(r.status, 403, `Host: ${host} ${path}`);
        assert.doesNotMatch(r.body, /doe-family|running/);
      }
    }
    // No Host at all (HTTP/1.0 allows that).
    const raw = await new Promise<string>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => c.write('GET / HTTP/1.0\r\n\r\n'));
      let out = '';
      c.on('data', (d) => (out += d));
      c.on('close', () => resolve(out));
    });
    assert.match(raw, /^HTTP\/1\.[01] 403 /);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const r = await request(port, { method: 'POST', path: '/api/status', headers: { ...auth, host } });
      assert.equal(r.status, 200, `Host: ${host}`);
    }
  });

  test('path tricks never leave dist/renderer', async () => {
    for (const path of [
      '/../package.json',
      '/assets/../../package.json',
      '/%2e%2e/%2e%2e/package.json',
      '/..%2f..%2fpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2fcore%2fapi.ts',
      '/index.html%00.js',
      '//etc/passwd',
    ]) {
      const r = await request(port, { path });
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.body, /"name": "postern"|GatewayApi|root:/);
    }
  });
});

describe('API over HTTP', () => {
  const call = (method: string, body?: string, headers = auth) => request(port, { method: 'POST', path: `/api/${method}`, headers, body });

  test('invalid input is refused with 400 and the invalid-input envelope', async () => {
    const cases: [string, string | undefined, RegExp][] = [
      ['events', '{not json', /not valid JSON/],
      ['events', '{"verdict":["maybe"]}', /"maybe" is not one of/],
      ['events', '{"surprise":1}', /unknown field "surprise"/],
      ['setNetwork', '{"cidr":"10.0.0.0/8"}', /enabled: expected true or false/],
      ['status', '[1,2]', /expected an object/],
      ['doesNotExist', '{}', /unknown API method "doesNotExist"/],
      ['__proto__', '{}', /unknown API method/],
    ];
    for (const [m, body, msg] of cases) {
      const r = await call(m, body);
      assert.equal(r.status, 400, `${m} ${body}`);
      const j = JSON.parse(r.body);
      assert.equal(j.ok, false);
      assert.equal(j.error.code, 'invalid-input');
      assert.match(j.error.message, msg);
    }
  });

  test('a meaning the gateway refuses keeps its code (bad CIDR: 400; unknown name: 404)', async () => {
    const bad = await call('setNetwork', '{"cidr":"300.1.2.3/8","enabled":true}');
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).error.code, 'invalid-input');
    const missing = await call('removeAccount', '{"name":"nobody"}');
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body).error.code, 'not-found');
  });

  test('bodies over the limit get 413', async () => {
    const big = JSON.stringify({ record: `v=spf1 ${'a'.repeat(MAX_BODY_BYTES)}` });
    const r = await call('spfValidate', big);
    assert.equal(r.status, 413);
    assert.equal(JSON.parse(r.body).error.code, 'invalid-input');
  });

  test('only POST calls methods; only GET opens the stream', async () => {
    const g = await request(port, { path: '/api/status', headers: auth });
    assert.equal(g.status, 405);
    assert.equal(g.headers.allow, 'POST');
    const p = await request(port, { method: 'POST', path: `/api/stream?token=${s.dash.token}` });
    assert.equal(p.status, 405);
  });

  test('a method without argument accepts an empty body', async () => {
    const r = await call('networks', '');
    assert.equal(r.status, 200);
    assert.ok(Array.isArray(JSON.parse(r.body).value));
  });
});

describe('live stream', () => {
  test('nothing is subscribed while no page listens; a page gets status first, then event batches', async () => {
    await waitFor(() => s.dash.stream().clients === 0, 10_000, 'no clients');
    assert.equal(s.dash.stream().subscribed, false);
    const st = openStream(port, s.dash.token);
    await st.ready;
    assert.equal(st.status, 200);
    await waitFor(() => st.messages.length >= 1, 10_000, 'first message');
    assert.equal(st.messages[0].msg.type, 'status');
    assert.equal(s.dash.stream().subscribed, true);
    const c = await RawSmtp.connect({ port: s.t.port(), localAddress: INTERNET });
    await c.cmd('EHLO relay.example');
    const r = await transaction(c, 'x@example.org', ['victim@example.com']);
    assert.equal(r.rcpts[0].code, 554);
    await c.quit();
    const rejected = s.t.events().find((e) => e.stage === 'rcpt' && e.verdict === 'reject' && e.to === 'victim@example.com');
    assert.ok(rejected);
    await waitFor(() => st.eventIds().includes(rejected.id), 10_000, 'the reject event on the stream');
    st.close();
    await waitFor(() => s.dash.stream().clients === 0, 10_000, 'client gone');
    assert.equal(s.dash.stream().subscribed, false);
  });

  test('events are coalesced to at most ~10 batches a second, in order, none lost or doubled', async () => {
    const st = openStream(port, s.dash.token);
    await st.ready;
    await waitFor(() => st.messages.length >= 1, 10_000, 'hello');
    const first = s.t.gw.bus.lastId + 1;
    const started = Date.now();
    // 2,000 events over ~1.5 s, in bursts from many timer ticks.
    let n = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        for (let i = 0; i < 20 && n < 2000; i++, n++) s.t.gw.bus.emit({ stage: 'system', verdict: 'info', rule: 'system', text: `event ${n}` });
        if (n >= 2000) {
          clearInterval(tick);
          resolve();
        }
      }, 15);
    });
    const last = s.t.gw.bus.lastId;
    await waitFor(() => st.eventIds().includes(last), 10_000, 'the last event');
    const ids = st.eventIds().filter((id) => id >= first);
    assert.deepEqual(
      ids,
      Array.from({ length: last - first + 1 }, (_, i) => first + i),
    );
    const batches = st.messages.filter((m) => m.msg.type === 'events' && m.at >= started);
    const seconds = (batches.at(-1)!.at - started) / 1000;
    // Coalesced: far fewer batches than the 100 timer ticks that emitted them. (Their
    // spacing is timing, measured by the benchmark: test/bench/live-bench.ts.)
    assert.ok(batches.length <= Math.ceil(seconds * 10) + 2, `${batches.length} batches in ${seconds.toFixed(2)} s`);
    st.close();
  });

  test('a page that does not read is dropped; the others and the gateway carry on', async () => {
    const small = await startDashboard({
      api: createApi({ gateway: s.t.gw }),
      gateway: s.t.gw,
      port: 0,
      staticDir: DIST,
      stream: { clientBufferBytes: 1024 * 1024 },
    });
    try {
      // A client that sends the request and then never reads a byte.
      const stuck = net.connect({ host: '127.0.0.1', port: small.port });
      await new Promise<void>((r) => stuck.once('connect', () => r()));
      stuck.pause();
      stuck.write(`GET /api/stream?token=${small.token} HTTP/1.1\r\nHost: 127.0.0.1:${small.port}\r\n\r\n`);
      const good = openStream(small.port, small.token);
      await good.ready;
      await waitFor(() => small.stream().clients === 2, 10_000, 'two clients');
      const first = s.t.gw.bus.lastId + 1;
      const text = 'x'.repeat(400);
      for (let round = 0; round < 60 && small.stream().dropped === 0; round++) {
        for (let i = 0; i < 1000; i++) s.t.gw.bus.emit({ stage: 'system', verdict: 'info', rule: 'system', text });
        await new Promise((r) => setTimeout(r, 110));
      }
      assert.equal(small.stream().dropped, 1, 'the stuck page was dropped');
      assert.equal(small.stream().clients, 1);
      // The gateway never waited for the stuck page: everything reached the good one.
      const last = s.t.gw.bus.lastId;
      await waitFor(() => good.eventIds().includes(last), 10_000, 'the good page got everything');
      const ids = good.eventIds().filter((id) => id >= first);
      assert.equal(ids.length, last - first + 1);
      good.close();
      stuck.destroy();
    } finally {
      await small.close();
    }
  });
});

describe('without a built renderer', () => {
  test('the API still works and / says how to build the page', async () => {
    const bare = await startDashboard({ api: createApi({ gateway: s.t.gw }), gateway: s.t.gw, port: 0, staticDir: '/nonexistent/renderer' });
    try {
      assert.equal(bare.uiBuilt, false);
      const page = await request(bare.port, { path: '/' });
      assert.equal(page.status, 200);
      assert.match(page.body, /npm run build:renderer/);
      const r = await request(bare.port, { method: 'POST', path: '/api/status', headers: { authorization: `Bearer ${bare.token}` } });
      assert.equal(JSON.parse(r.body).ok, true);
    } finally {
      await bare.close();
    }
  });
});
