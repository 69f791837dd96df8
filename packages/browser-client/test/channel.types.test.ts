import type { BoardcastError, Contract } from '@boardcast/core';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type ChannelClient,
  type ChannelView,
  connectChannels,
  connectChannelsSse,
  connectChannelsWs,
} from '../src/channels.js';
import { fleet } from './fleet.js';

type Fleet = typeof fleet extends Contract<infer S> ? S : never;

describe('channel client types inferred from the contract', () => {
  it('types each channel’s state, events and commands', () => {
    const client = connectChannels('http://127.0.0.1:1/api', fleet, { channels: [], reconnect: false });
    expectTypeOf(client).toEqualTypeOf<ChannelClient<Fleet>>();
    const board = client.channel('board-1');
    expectTypeOf(board).toEqualTypeOf<ChannelView<Fleet>>();
    expectTypeOf(board.state).toEqualTypeOf<{ sum: number; n: number; on: boolean } | undefined>();
    const ready = board.whenReady();
    ready.catch(() => undefined);
    expectTypeOf(ready).resolves.toEqualTypeOf<{ sum: number; n: number; on: boolean }>();
    board.on('add', (data, id) => {
      expectTypeOf(data).toEqualTypeOf<number>();
      expectTypeOf(id).toEqualTypeOf<string | undefined>();
    });
    board.on('change', (state) =>
      expectTypeOf(state).toEqualTypeOf<{ sum: number; n: number; on: boolean } | undefined>(),
    );
    board.on('forbidden', (error) => expectTypeOf(error).toEqualTypeOf<BoardcastError>());
    client.on('forbidden', (channel, error) => {
      expectTypeOf(channel).toEqualTypeOf<string>();
      expectTypeOf(error).toEqualTypeOf<BoardcastError>();
    });
    const sent = board.send('led', { on: true });
    expectTypeOf(sent).resolves.toEqualTypeOf<{ on: boolean }>();
    sent.catch(() => undefined);
    client.command('led', { on: false }, { channel: 'board-2' }).catch(() => undefined);
    client.subscribe(['board-2', 'kitchen-*', { channel: 't', since: '1-1', state: { sum: 0, n: 0, on: false } }]);
    // @ts-expect-error a since request's state is the contract's state
    client.subscribe({ channel: 't', since: '1-1', state: { sum: 'x' } });
    // @ts-expect-error not an event of the contract
    board.on('temperature', () => undefined);
    // @ts-expect-error wrong input
    board.send('led', { on: 'yes' }).catch(() => undefined);
    expectTypeOf(connectChannelsSse<Fleet>).returns.toEqualTypeOf<ChannelClient<Fleet>>();
    expectTypeOf(connectChannelsWs<Fleet>).returns.toEqualTypeOf<ChannelClient<Fleet>>();
    // @ts-expect-error WebSocket options are not SSE options
    connectChannelsSse('http://127.0.0.1:1/api', fleet, { wsUrl: 'ws://x', reconnect: false }).close();
    // The set may start empty.
    connectChannels('http://127.0.0.1:1/api', fleet, { reconnect: false }).close();
    expectTypeOf(client.directory.state?.entries[0]?.kind).toEqualTypeOf<string | undefined>();
    client.close();
  });
});
