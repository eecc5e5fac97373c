// Live pushes to the window (electron/live.ts) over a real EventBus: batched (≤10
// flushes a second), nothing sent while the window is hidden, and what it missed
// sent when it is shown again — in order, without gaps or repeats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventBus } from '../../core/events/bus.ts';
import type { GatewayStatus } from '../../core/gateway.ts';
import { LivePush, type StreamMessage } from '../../electron/live.ts';
import { waitFor } from '../support/wait.ts';

function fakeGateway() {
  const bus = new EventBus(10_000);
  const stateFns = new Set<(s: GatewayStatus) => void>();
  let n = 0;
  const status = (): GatewayStatus => ({
    state: 'running',
    hostname: 'h',
    startedAt: null,
    listeners: [],
    counters: { connections: ++n, accepted: 0, rejected: 0, deferred: 0, relayDenied: 0, authFailures: 0, logins: 0, refusedConnections: 0 },
    tls: null,
    queue: { outbound: 0 },
    setup: null,
  });
  return {
    bus,
    status,
    onState(fn: (s: GatewayStatus) => void) {
      stateFns.add(fn);
      return () => stateFns.delete(fn);
    },
    emitState() {
      for (const f of stateFns) f(status());
    },
    listeners: () => stateFns.size,
  };
}

/** A window: `checks` counts the flushes that asked whether it can take a push. */
function target() {
  const sent: StreamMessage[] = [];
  const t = {
    visible: true,
    sent,
    checks: 0,
    canSend: () => {
      t.checks++;
      return t.visible;
    },
    send: (m: StreamMessage) => void sent.push(m),
  };
  return t;
}

/** Waits until LivePush has run `n` more flushes (each asks canSend() first). */
async function flushes(t: ReturnType<typeof target>, n = 1): Promise<void> {
  const goal = t.checks + n;
  await waitFor(() => t.checks >= goal, 5000, `${n} flush(es)`);
}

const ids = (msgs: StreamMessage[]) => msgs.flatMap((m) => (m.type === 'events' ? m.events.map((e) => e.id) : []));
const emit = (bus: EventBus, k: number) => {
  for (let i = 0; i < k; i++) bus.emit({ stage: 'connect', verdict: 'info', rule: 'connect', text: `e${i}` });
};

test('a burst of events goes out as one batch, then status', async () => {
  const gw = fakeGateway();
  const t = target();
  const live = new LivePush(gw, t, { intervalMs: 50, statusIntervalMs: 0 });
  emit(gw.bus, 500);
  assert.equal(t.sent.length, 0, 'nothing synchronously on the SMTP path');
  await waitFor(() => t.sent.length >= 2, 5000, 'the events and the status');
  assert.deepEqual(
    t.sent.map((m) => m.type),
    ['events', 'status'],
  );
  assert.deepEqual(
    ids(t.sent),
    Array.from({ length: 500 }, (_, i) => i + 1),
  );
  live.close();
});

test('at most one flush per interval under a steady stream (≤10 per second at 100 ms)', async () => {
  const gw = fakeGateway();
  const t = target();
  const live = new LivePush(gw, t, { intervalMs: 100, statusIntervalMs: 250 });
  const start = Date.now();
  while (Date.now() - start < 1000) {
    emit(gw.bus, 20);
    await sleep(5);
  }
  await waitFor(() => ids(t.sent).length === gw.bus.lastId, 5000, 'every event');
  const elapsed = Date.now() - start;
  const eventPushes = t.sent.filter((m) => m.type === 'events').length;
  const statusPushes = t.sent.filter((m) => m.type === 'status').length;
  // A busy machine makes for fewer flushes, never more than one per interval.
  assert.ok(eventPushes <= Math.ceil(elapsed / 100) + 1, `${eventPushes} event pushes in ${elapsed} ms`);
  assert.ok(eventPushes >= 2, `${eventPushes} event pushes: sent while the stream went on, not once at the end`);
  assert.ok(statusPushes <= Math.ceil(elapsed / 250) + 1, `${statusPushes} status pushes in ${elapsed} ms`);
  const all = ids(t.sent);
  assert.deepEqual(
    all,
    Array.from({ length: all.length }, (_, i) => i + 1),
    'in order, no gaps, no repeats',
  );
  assert.equal(all.length, gw.bus.lastId);
  live.close();
});

test('hidden window: nothing sent; shown again: the missed events, then status', async () => {
  const gw = fakeGateway();
  const t = target();
  const live = new LivePush(gw, t, { intervalMs: 20, statusIntervalMs: 0 });
  emit(gw.bus, 3);
  await waitFor(() => ids(t.sent).length === 3, 5000, 'the first three');
  t.visible = false;
  const before = t.sent.length;
  const flushed = flushes(t);
  emit(gw.bus, 7);
  gw.emitState();
  await flushed;
  assert.equal(t.sent.length, before, 'nothing while hidden');
  t.visible = true;
  live.resume();
  await waitFor(() => ids(t.sent).length === 10 && t.sent.at(-1)!.type === 'status', 5000, 'the missed events and status');
  assert.deepEqual(ids(t.sent), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(t.sent.at(-1)!.type, 'status');
  live.close();
});

test('a backlog larger than a batch goes out over several flushes, all of it', async () => {
  const gw = fakeGateway();
  const t = target();
  const live = new LivePush(gw, t, { intervalMs: 10, statusIntervalMs: 0, maxBatch: 100 });
  t.visible = false;
  const flushed = flushes(t);
  emit(gw.bus, 1000);
  await flushed;
  assert.equal(t.sent.length, 0, 'nothing while hidden');
  t.visible = true;
  live.resume();
  await waitFor(() => ids(t.sent).length === 1000, 10_000, 'all 1000 events');
  const batches = t.sent.filter((m) => m.type === 'events');
  assert.ok(batches.length >= 10);
  assert.ok(batches.every((m) => m.type === 'events' && m.events.length <= 100));
  assert.deepEqual(
    ids(t.sent),
    Array.from({ length: 1000 }, (_, i) => i + 1),
  );
  live.close();
});

test('a state change is pushed without events; close() unsubscribes; a throwing send is survived', async () => {
  const gw = fakeGateway();
  const t = target();
  const live = new LivePush(gw, t, { intervalMs: 10, statusIntervalMs: 10_000 });
  gw.emitState();
  await waitFor(() => t.sent.length === 1, 5000, 'a status push');
  assert.deepEqual(
    t.sent.map((m) => m.type),
    ['status'],
  );
  gw.emitState(); // a state change is not throttled by statusIntervalMs
  await waitFor(() => t.sent.length === 2, 5000, 'a second status push');
  assert.deepEqual(
    t.sent.map((m) => m.type),
    ['status', 'status'],
  );
  // The window is torn down between canSend() and send(): the push throws…
  const working = t.send;
  let thrown = 0;
  t.send = () => {
    thrown++;
    throw new Error('Object has been destroyed');
  };
  emit(gw.bus, 1);
  await waitFor(() => thrown === 1, 5000, 'the throwing push');
  // …and LivePush lives on: the reloaded window gets what it missed, and what follows.
  t.send = working;
  live.resume();
  await waitFor(() => ids(t.sent).includes(1), 5000, 'the missed event after resume()');
  emit(gw.bus, 1);
  await waitFor(() => ids(t.sent).includes(2), 5000, 'the next event');
  assert.deepEqual(ids(t.sent), [1, 2]);
  live.close();
  assert.equal(gw.listeners(), 0);
});
