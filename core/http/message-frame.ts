// GET /api/message-html?id=N&token=T (docs/design.md §7.2): a stored message's HTML part
// for the viewer's <iframe sandbox>, with a CSP of its own that blocks every script and
// every remote load (images only as data: URIs, inline styles allowed): opening a
// message never tells its sender that it was read, and never runs its code.
import type http from 'node:http';
import type { GatewayApi } from '../api.ts';

export const MESSAGE_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox";

export async function serveMessageFrame(api: GatewayApi, url: URL, res: http.ServerResponse): Promise<void> {
  const id = Number(url.searchParams.get('id'));
  let body: string;
  let status = 200;
  if (!Number.isSafeInteger(id) || id < 1) {
    status = 400;
    body = '<p>No such message.</p>';
  } else {
    try {
      const m = await api.messageContent({ id });
      body = m.html ?? '<p>This message has no HTML part.</p>';
    } catch (e) {
      status = 404;
      body = `<p>${String((e as Error).message).replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)}</p>`;
    }
  }
  // The page's own headers are replaced: this one may be framed by the dashboard, and only by it.
  res.removeHeader('X-Frame-Options');
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': MESSAGE_CSP,
    'X-Frame-Options': 'SAMEORIGIN',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
