import { expect } from 'vitest';
import { type ConnectOptions, connect } from '../src/index.js';
import { cleanups, contract, makeHub, serve, startHub, type TestContract, tick, track, until } from './helpers.js';

/**
 * The scenarios every transport passes against the real sse-server and
 * ws-server, written once: sse.test.ts and ws.test.ts call each with their
 * transport's options (`{ transport: 'sse' }`, `{ transport: 'ws', WebSocket }`).
 * Each test registers `afterEach(runCleanups)`.
 */
type TransportOptions = ConnectOptions<TestContract>;

/** Snapshot first, then 20 ticks and an led event in order; the mirror folds them and the last id is the hub's. */
export async function receivesInOrder(options: TransportOptions): Promise<void> {
  const { hub, server } = await startHub();
  const client = connect(server.url, contract, { ...options, reconnect: { initialDelayMs: 20 } });
  const t = track(client);
  expect(client.transport).toBe(options.transport);
  await until(() => client.status === 'open' && client.state);
  for (let i = 1; i <= 20; i++) await tick(hub, i);
  await hub.publish('led', { on: true });
  await until(() => client.state?.led.on === true);
  expect(t.ticks).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  expect(client.state).toEqual({ led: { on: true }, tick: 20, pins: {} });
  expect(client.lastEventId).toBe(hub.headId);
}

/**
 * The server is killed and started again on its port while events keep
 * coming: the client reconnects and resumes from its last id (one snapshot,
 * no reset), every tick once, in order.
 */
export async function survivesRestart(options: TransportOptions): Promise<void> {
  const { hub, restart } = await restartable();
  const client = connect(restart.url, contract, { ...options, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  const t = track(client);
  let snapshots = 0;
  client.on('snapshot', () => snapshots++);
  await until(() => client.status === 'open' && snapshots === 1);
  for (let i = 1; i <= 5; i++) await tick(hub, i);
  await until(() => t.ticks.length === 5);

  await restart.kill();
  await until(() => client.status === 'reconnecting');
  // Published while nobody is connected: must arrive after the restart.
  for (let i = 6; i <= 10; i++) await tick(hub, i);
  await restart.again();
  await until(() => t.ticks.length >= 10);
  for (let i = 11; i <= 15; i++) await tick(hub, i);
  await until(() => t.ticks.length >= 15);

  expect(t.ticks).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  expect(new Set(t.ids).size).toBe(15);
  expect(snapshots).toBe(1); // resumed, not re-snapshotted
  expect(t.resets).toEqual([]);
  expect(t.statuses.map((s) => s.status)).toContain('reconnecting');
  expect(client.state?.tick).toBe(15);
}

/**
 * The hub keeps 3 events; 9 are published while the server is down: the
 * client is told `reset` ('history') and starts over from a fresh snapshot,
 * then follows on.
 */
export async function resetsWhenHistoryIsGone(options: TransportOptions): Promise<void> {
  const { hub, restart } = await restartable(3);
  const client = connect(restart.url, contract, { ...options, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  const t = track(client);
  const snapshots: unknown[] = [];
  client.on('snapshot', (s) => snapshots.push(s));
  await until(() => snapshots.length === 1);
  await tick(hub, 1);
  await until(() => t.ticks.length === 1);
  await restart.kill();
  for (let i = 2; i <= 10; i++) await tick(hub, i); // more than the history of 3
  await restart.again();
  await until(() => snapshots.length === 2);
  expect(t.resets).toEqual(['history']);
  expect(snapshots[1]).toEqual({ led: { on: false }, tick: 10, pins: {} });
  expect(client.state?.tick).toBe(10);
  await tick(hub, 11);
  await until(() => client.state?.tick === 11);
  expect(t.ticks).toEqual([1, 11]);
}

/** A hub whose server can be killed and started again on the same port; closed after the test. */
async function restartable(history?: number) {
  const hub = makeHub(history);
  let server = await serve(hub);
  const port = server.port;
  cleanups.push(() => hub.close());
  return {
    hub,
    restart: {
      url: server.url,
      kill: () => server.kill(),
      async again() {
        server = await serve(hub, { port });
        cleanups.push(() => server.kill());
      },
    },
  };
}
