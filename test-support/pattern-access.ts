/**
 * Issue 22's pattern-access scenario, written once for every transport that
 * serves channels (the SSE and WebSocket tests run it over their own real
 * connections): a named pattern's every matching channel, including ones that
 * appear later, passes the viewer's access check. bob holds `board-*` and may
 * see board-1 and board-3 only; board-2 exists when he connects, board-3 and
 * board-4 appear later. Nothing of board-2 or board-4 is ever written to him
 * (not even a message naming them); board-3 starts with its snapshot and then
 * its events, each once. alice, allowed everything, shows the same events
 * were really published.
 */
import { type AccessTable, accessTable } from '@boardcast/core';
import { expect } from 'vitest';
import type { FleetHub } from './channel-fleet.js';
import { waitFor } from './wait.js';

/** bob may see board-1 and board-3, alice everything (the table a test may change). */
export const patternAccess = (): AccessTable =>
  accessTable({ bob: { see: ['board-1', 'board-3'] }, alice: { see: ['*'] } });

/** One message a connection received, as its transport's test reads it: `type` is `snapshot`, `event` or anything else. */
export interface ChannelMessage {
  readonly channel: unknown;
  readonly type: unknown;
  readonly data: unknown;
}

/** How a test reads one connection of type `C`: its messages in order, and its raw texts (to find any that name a channel). */
export interface ConnectionView<C> {
  messages(connection: C): readonly ChannelMessage[];
  raw(connection: C): readonly string[];
}

export type Ticks = { ticks: number; last: number };

/**
 * `channel` folded as a mirror would: its one snapshot, then each `tick`
 * (count, last value); a second snapshot, an event before the snapshot or any
 * other message for the channel throws.
 */
export function foldTicks(messages: readonly ChannelMessage[], channel: string): Ticks | undefined {
  let state: Ticks | undefined;
  for (const m of messages) {
    if (m.channel !== channel) continue;
    if (m.type === 'snapshot') {
      if (state !== undefined) throw new Error(`second snapshot of ${channel}`);
      state = m.data as Ticks;
    } else if (m.type === 'event') {
      if (state === undefined) throw new Error(`event of ${channel} before its snapshot`);
      state = { ticks: state.ticks + 1, last: m.data as number };
    } else throw new Error(`unexpected ${String(m.type)} message for ${channel}`);
  }
  return state;
}

/** The scenario's reading of connections of type `C`. */
function reader<C>(view: ConnectionView<C>) {
  return {
    folded: (connection: C, channel: string) => foldTicks(view.messages(connection), channel),
    /** Every raw message that names `channel` anywhere (a channel field, a directory entry, an error message). */
    naming: (connection: C, channel: string) => view.raw(connection).filter((text) => text.includes(`"${channel}"`)),
  };
}

/** The channels that exist before bob connects: board-1 (tick 1) and board-2 (tick 20). */
export async function publishExisting(hub: FleetHub): Promise<void> {
  await hub.channel('board-1').publish('tick', 1);
  await hub.channel('board-2').publish('tick', 20);
}

/**
 * With bob and alice connected through `board-*` (after `publishExisting`):
 * board-3 and board-4 appear, interleaved with events of the existing ones;
 * bob gets board-1 and board-3 (snapshot, then each event once) and nothing
 * naming board-2 or board-4; alice gets all four.
 */
export async function expectPatternAccess<C>(hub: FleetHub, view: ConnectionView<C>, bob: C, alice: C): Promise<void> {
  const { folded, naming } = reader(view);
  await waitFor(() => folded(bob, 'board-1') !== undefined, 'bob: board-1 snapshot');

  await hub.channel('board-4').publish('tick', 40);
  await hub.channel('board-3').publish('tick', 3);
  await hub.channel('board-4').publish('tick', 41);
  await hub.channel('board-3').publish('tick', 4);
  await hub.channel('board-2').publish('tick', 21);
  await hub.channel('board-1').publish('tick', 2);
  // One connection is written in id order: once board-1's 2 is here, everything before it is too.
  await waitFor(() => folded(bob, 'board-1')?.last === 2, 'bob: board-1 event 2');
  await waitFor(() => folded(alice, 'board-1')?.last === 2, 'alice: board-1 event 2');

  expect(folded(bob, 'board-1')).toEqual({ ticks: 2, last: 2 });
  expect(folded(bob, 'board-3')).toEqual({ ticks: 2, last: 4 });
  expect(naming(bob, 'board-2')).toEqual([]);
  expect(naming(bob, 'board-4')).toEqual([]);
  // The same events did reach a viewer allowed to see them.
  expect(folded(alice, 'board-2')).toEqual({ ticks: 2, last: 21 });
  expect(folded(alice, 'board-4')).toEqual({ ticks: 2, last: 41 });
  expect(folded(alice, 'board-3')).toEqual({ ticks: 2, last: 4 });
}

/**
 * A rights change: `connect` opens bob through `board-*` once board-1
 * exists; then bob loses board-3 (which the table allowed), board-3 appears
 * and board-1 moves on. bob gets board-1's event and nothing naming board-3.
 */
export async function expectRightsChangeKeepsOut<C>(
  hub: FleetHub,
  access: AccessTable,
  view: ConnectionView<C>,
  connect: () => Promise<C>,
): Promise<void> {
  const { folded, naming } = reader(view);
  await hub.channel('board-1').publish('tick', 0);
  const bob = await connect();
  await waitFor(() => folded(bob, 'board-1') !== undefined, 'bob: board-1 snapshot');
  // Before the change bob may see board-3: the change, not the table, keeps it out.
  access.set('bob', { see: ['board-1'] });
  await hub.invalidateAccess('bob');
  await hub.channel('board-3').publish('tick', 3);
  await hub.channel('board-1').publish('tick', 1);
  await waitFor(() => folded(bob, 'board-1')?.last === 1, 'bob: board-1 event 1');
  expect(folded(bob, 'board-1')).toEqual({ ticks: 2, last: 1 });
  expect(naming(bob, 'board-3')).toEqual([]);
}
