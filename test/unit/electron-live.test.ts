// Live pushes to the window (electron/live.ts) over a real EventBus: batched (≤10
// flushes a second), nothing sent while the window is hidden, and what it missed
// sent when it is shown again — in order, without gaps or repeats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventBus } from '../../core/events/bus.ts';
import type { GatewayStatus } from '../../core/gateway.ts';
import { LivePush, type StreamMessage } from '../../electron/live.ts';

function fakeGateway() {
  const bus = new EventBus(10_000);
  const stateFns = new Set<(s: GatewayStatus) => void>();
  let n = 0;
  const status = (): GatewayStatus => ({
    state: 'running',
    hostname: 'h',
    startedAt: null,
    listeners: [],
    counters: { connections: ++n, accepted: 0, rejected: 0, deferred: 0, relayDenied: 0, authFailures: 0 },
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

function target() {
  const sent: StreamMessage[] = [];
  const t = { visible: true, sent, canSend: () => t.visible, send: (m: StreamMessage) => void sent.push(m) };
  return t;
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
  await sleep(120);
  assert.deepEqual(
    t.sent.map((m) => m.type),
    ['events', 'status'],
  );
  assert.deepEqual(ids(t.sent), Array.from({ length: 500 }, (_, i) => i + 1));
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
  await sleep(300);
  const eventPushes = t.sent.filter((m) => m.type === 'events').length;
  const statusPushes = t.sent.filter((m) => m.type === 'status').length;
  assert.ok(eventPushes <= 13, `${eventPushes} event pushes in ~1.3 s`);
  assert.ok(eventPushes >= 5, `${eventPushes} event pushes: still live`);
  assert.ok(statusPushes <= 7, `${statusPushes} status pushes`);
  const all = ids(t.sent);
  assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => i + 1), 'in order, no gaps, no repeats');
  assert.equal(all.length, gw.bus.lastId);
  live.close();
});

test('hidden window: nothing sent; shown again: the missed events, then status', async () => {
  const gw = fakeGateway();
  const t = target();
  const live = new LivePush(gw, t, { intervalMs: 20, statusIntervalMs: 0 });
  emit(gw.bus, 3);
  await sleep(60);
  t.visible = false;
  const before = t.sent.length;
  emit(gw.bus, 7);
  gw.emitState();
  await sleep(80);
  assert.equal(t.sent.length, before, 'nothing while hidden');
  t.visible = true;
  live.resume();
  await sleep(60);
  assert.deepEqual(ids(t.sent), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(t.sent.at(-1)!.type, 'status');
  live.close();
});

test('a backlog larger than a batch goes out over several flushes, all of it', async () => {
  const gw = fakeGateway();
  const t = target();
  const live = new LivePush(gw, t, { intervalMs: 10, statusIntervalMs: 0, maxBatch: 100 });
  t.visible = false;
  emit(gw.bus, 1000);
  await sleep(30);
  t.visible = true;
  live.resume();
  await sleep(400);
  const batches = t.sent.filter((m) => m.type === 'events');
  assert.ok(batches.length >= 10);
  assert.ok(batches.every((m) => m.type === 'events' && m.events.length <= 100));
  assert.deepEqual(ids(t.sent), Array.from({ length: 1000 }, (_, i) => i + 1));
  live.close();
});

test('a state change is pushed without events; close() unsubscribes; a throwing send is survived', async () => {
  const gw = fakeGateway();
  const t = target();
  const live = new LivePush(gw, t, { intervalMs: 10, statusIntervalMs: 10_000 });
  gw.emitState();
  await sleep(40);
  assert.deepEqual(t.sent.map((m) => m.type), ['status']);
  gw.emitState(); // a state change is not throttled by statusIntervalMs
  await sleep(40);
  assert.deepEqual(t.sent.map((m) => m.type), ['status', 'status']);
  t.send = () => {
    throw new Error('Object has been destroyed');
  };
  emit(gw.bus, 1);
  await sleep(40);
  live.close();
  assert.equal(gw.listeners(), 0);
});
