// The worker thread's side of core/work/pool.ts (docs/design.md §2.8), and the history
// index's writer thread (§4.4, started with workerData.role 'history'): DKIM/DMARC
// verification of a received message, DKIM signing of an outbound one and its
// conversion to 7-bit (§3.3), off the
// event loop, where the pool's deadline can stop them (Worker.terminate) whatever
// the message's shape. Built as its own bundle for the desktop app (electron/build.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/schema.ts';
import { dnsClientFor, type DnsClient } from '../dns/client.ts';
import { signMessage, type DkimKey } from '../dkim/keys.ts';
import { toSevenBit } from '../delivery/seven-bit.ts';
import { messageAuth, messageAuthHeaders, type MessageAuthContext } from '../spf/authres.ts';
import type { WorkReply, WorkRequest } from './pool.ts';
import { runHistoryWriter, type HistoryThreadData } from '../history/writer-thread.ts';

// One DNS client (and cache) per DNS setting, for the worker's life.
const clients = new Map<string, DnsClient>();
function dnsFor(cfg: Config): DnsClient {
  const key = JSON.stringify(cfg.dns);
  let c = clients.get(key);
  if (!c) {
    c = dnsClientFor(cfg);
    clients.set(key, c);
    if (clients.size > 8) clients.delete(clients.keys().next().value!);
  }
  return c;
}

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

async function run(req: WorkRequest): Promise<unknown> {
  if (req.kind === 'verify') {
    const ctx = req.ctx as MessageAuthContext;
    return messageAuthHeaders({ head: buf(req.head), bodyFile: req.bodyFile, body: req.body }, ctx, { resolver: dnsFor(ctx.cfg).resolver });
  }
  if (req.kind === 'auth') {
    const ctx = req.ctx as MessageAuthContext;
    return messageAuth({ head: buf(req.head), bodyFile: req.bodyFile, body: req.body }, ctx, { resolver: dnsFor(ctx.cfg).resolver, evaluate: req.evaluate });
  }
  if (req.kind === 'sign') return signMessage(buf(req.message), req.key as DkimKey);
  if (req.kind === 'seven-bit') return toSevenBit(buf(req.message));
  throw new Error(`unknown work ${(req as { kind: string }).kind}`);
}

// The same code runs the history index's writer thread (core/history/writer-thread.ts).
if ((workerData as HistoryThreadData | null)?.role === 'history') runHistoryWriter(workerData as HistoryThreadData);
else
  parentPort!.on('message', (req: WorkRequest) => {
    run(req).then(
      (value) => parentPort!.postMessage({ id: req.id, ok: true, value } satisfies WorkReply),
      (e: Error) => parentPort!.postMessage({ id: req.id, ok: false, error: e?.message ?? String(e) } satisfies WorkReply),
    );
  });
