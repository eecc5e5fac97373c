// The IPC door (electron/ipc.ts) and what the window may load and reach
// (electron/protocol.ts): bad input, unknown channels and foreign frames are
// refused before the API is called; every answer is the ApiResult envelope.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ApiError, type GatewayApi } from '../../core/api.ts';
import { API_METHODS } from '../../core/api-methods.ts';
import { CSP as HTTP_CSP } from '../../core/http/server.ts';
import { dispatch, methodOf, registerIpc, type InvokeEventLike } from '../../electron/ipc.ts';
import { channelOf } from '../../electron/channels.ts';
import { APP_URL, CSP, externalUrlAllowed, isTrustedSender, resolveAppFile, responseHeaders } from '../../electron/protocol.ts';

/** An API whose every method records its argument and answers with it. */
function spyApi() {
  const calls: [string, unknown][] = [];
  const api = {} as Record<string, (a?: unknown) => Promise<unknown>>;
  for (const m of API_METHODS) {
    api[m] = async (a?: unknown) => {
      calls.push([m, a]);
      if (m === 'removeAccount') throw new ApiError('not-found', 'no account named "x"');
      if (m === 'doctor') throw new Error('disk on fire');
      return { method: m, arg: a };
    };
  }
  return { api: api as unknown as GatewayApi, calls };
}

const ours: InvokeEventLike = { senderFrame: { url: APP_URL, parent: null } };

test('a good call reaches the API with the validated argument and comes back enveloped', async () => {
  const { api, calls } = spyApi();
  assert.deepEqual(await dispatch(api, 'postern:status', ours, []), { ok: true, value: { method: 'status', arg: undefined } });
  const r = await dispatch(api, 'postern:setNetwork', { senderFrame: { url: 'postern://app/#/networks', parent: null } }, [
    { cidr: '192.168.1.0/24', enabled: true },
  ]);
  assert.deepEqual(r, { ok: true, value: { method: 'setNetwork', arg: { cidr: '192.168.1.0/24', enabled: true } } });
  const ev = await dispatch(api, 'postern:events', ours, [{ afterId: 5, verdict: ['reject'] }]);
  assert.equal(ev.ok, true);
  assert.deepEqual(
    calls.map((c) => c[0]),
    ['status', 'setNetwork', 'events'],
  );
});

test('bad inputs are refused with invalid-input before reaching the API', async () => {
  const { api, calls } = spyApi();
  const bad: [string, unknown[]][] = [
    ['postern:setNetwork', [{ cidr: 5, enabled: true }]],
    ['postern:setNetwork', [{ cidr: '10.0.0.0/8' }]],
    ['postern:setNetwork', [{ cidr: '10.0.0.0/8', enabled: 'yes' }]],
    ['postern:setNetwork', [{ cidr: '10.0.0.0/8', enabled: true, extra: 1 }]],
    ['postern:events', [{ limit: 1e9 }]],
    ['postern:events', [{ verdict: ['maybe'] }]],
    ['postern:events', ['not an object']],
    ['postern:status', [{ anything: 1 }]],
    ['postern:addAccount', [{ name: 'x'.repeat(65), addresses: [], password: 'p' }]],
    ['postern:spfValidate', [{ record: `v=spf1 ${'a '.repeat(3000)}` }]],
    ['postern:removeNetwork', [[]]],
    ['postern:status', [undefined, undefined]], // more than one argument
  ];
  for (const [ch, args] of bad) {
    const r = await dispatch(api, ch, ours, args);
    assert.equal(r.ok, false, `${ch} ${JSON.stringify(args)}`);
    if (!r.ok) assert.equal(r.error.code, 'invalid-input', `${ch}: ${r.error.message}`);
  }
  assert.deepEqual(calls, [], 'the API saw none of them');
});

test('an unknown channel is refused', async () => {
  const { api, calls } = spyApi();
  for (const ch of ['postern:eval', 'postern:constructor', 'postern:__proto__', 'status', 'other:status', 'postern:']) {
    const r = await dispatch(api, ch, ours, []);
    assert.deepEqual(r.ok ? null : r.error.code, 'not-found', ch);
  }
  assert.equal(methodOf('postern:toString'), null);
  assert.equal(methodOf('postern:doctor'), 'doctor');
  assert.deepEqual(calls, []);
});

test('a call from another page, a sub-frame or a closed frame is refused', async () => {
  const { api, calls } = spyApi();
  const frames: InvokeEventLike[] = [
    { senderFrame: { url: 'https://evil.example/', parent: null } },
    { senderFrame: { url: 'file:///home/john/evil.html', parent: null } },
    { senderFrame: { url: 'postern://other/index.html', parent: null } },
    { senderFrame: { url: 'http://127.0.0.1:8025/', parent: null } },
    { senderFrame: { url: APP_URL, parent: {} } }, // an iframe inside our page
    { senderFrame: { url: '', parent: null } },
    { senderFrame: null },
  ];
  for (const ev of frames) {
    const r = await dispatch(api, 'postern:stop', ev, []);
    assert.deepEqual(r.ok ? null : r.error.code, 'unauthorized', JSON.stringify(ev));
  }
  assert.deepEqual(calls, []);
});

test('API errors keep their code; unexpected errors become internal', async () => {
  const { api } = spyApi();
  assert.deepEqual(await dispatch(api, 'postern:removeAccount', ours, [{ name: 'x' }]), {
    ok: false,
    error: { code: 'not-found', message: 'no account named "x"' },
  });
  assert.deepEqual(await dispatch(api, 'postern:doctor', ours, []), { ok: false, error: { code: 'internal', message: 'disk on fire' } });
});

test('registerIpc: one handler per API method on postern:<method>, all removable', async () => {
  const handlers = new Map<string, (e: InvokeEventLike, ...a: unknown[]) => unknown>();
  const ipcMain = {
    handle: (ch: string, fn: (e: InvokeEventLike, ...a: unknown[]) => unknown) => {
      assert.ok(!handlers.has(ch), `${ch} registered twice`);
      handlers.set(ch, fn);
    },
    removeHandler: (ch: string) => handlers.delete(ch),
  };
  const { api, calls } = spyApi();
  const off = registerIpc(ipcMain, api);
  assert.deepEqual([...handlers.keys()].sort(), API_METHODS.map((m) => `postern:${m}`).sort());
  assert.equal(channelOf('spfCheck'), 'postern:spfCheck');
  assert.deepEqual(await handlers.get('postern:networks')!(ours), { ok: true, value: { method: 'networks', arg: undefined } });
  assert.equal(((await handlers.get('postern:networks')!({ senderFrame: { url: 'https://x.example/', parent: null } })) as { ok: boolean }).ok, false);
  assert.equal(calls.length, 1);
  off();
  assert.equal(handlers.size, 0);
});

test('postern://app serves files under the renderer folder only', () => {
  const root = path.resolve('/opt/postern/dist/renderer');
  assert.equal(resolveAppFile('postern://app/index.html', root), path.join(root, 'index.html'));
  assert.equal(resolveAppFile('postern://app/', root), path.join(root, 'index.html'));
  assert.equal(resolveAppFile('postern://app', root), path.join(root, 'index.html'));
  assert.equal(resolveAppFile('postern://app/assets/index-abc.js?v=1#x', root), path.join(root, 'assets', 'index-abc.js'));
  assert.equal(resolveAppFile('postern://app/assets/a%20b.css', root), path.join(root, 'assets', 'a b.css'));
  for (const evil of [
    'postern://app/../../etc/passwd',
    'postern://app/%2e%2e/%2e%2e/etc/passwd',
    'postern://app/..%2f..%2fetc/passwd',
    'postern://app/assets%5c..%5c..%5csecret',
    'postern://app/a%00.js',
    'postern://app/%E0%A4%A',
  ]) {
    const f = resolveAppFile(evil, root);
    assert.ok(f === null || f.startsWith(root + path.sep), `${evil} → ${f}`);
  }
  assert.equal(resolveAppFile('postern://app/..%2f..%2fetc/passwd', root), null);
  assert.equal(resolveAppFile('postern://evil/index.html', root), null);
  assert.equal(resolveAppFile('file:///etc/passwd', root), null);
  assert.equal(resolveAppFile('not a url', root), null);
});

test('every answer carries the strict CSP, the same as the headless dashboard', () => {
  assert.equal(CSP, HTTP_CSP);
  assert.match(CSP, /script-src 'self'/);
  assert.doesNotMatch(CSP, /unsafe-inline|unsafe-eval/);
  const h = responseHeaders('/x/index.html');
  assert.equal(h['Content-Security-Policy'], CSP);
  assert.equal(h['Content-Type'], 'text/html; charset=utf-8');
  assert.equal(h['X-Content-Type-Options'], 'nosniff');
  assert.equal(responseHeaders('/x/a.js')['Content-Type'], 'text/javascript; charset=utf-8');
  assert.equal(responseHeaders('/x/a.weird')['Content-Type'], 'application/octet-stream');
});

test('trusted sender and external links', () => {
  assert.equal(isTrustedSender({ url: APP_URL, isMainFrame: true }), true);
  assert.equal(isTrustedSender({ url: APP_URL, isMainFrame: false }), false);
  assert.equal(isTrustedSender({ url: 'postern://app.evil/index.html', isMainFrame: true }), false);
  assert.equal(isTrustedSender(null), false);
  assert.equal(externalUrlAllowed('https://www.rfc-editor.org/rfc/rfc7208'), true);
  for (const u of [
    'http://example.com/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'postern://app/x',
    'https://user:pw@example.com/',
    'smb://host/share',
    'garbage',
  ]) {
    assert.equal(externalUrlAllowed(u), false, u);
  }
});
