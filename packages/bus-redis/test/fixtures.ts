import { createHub, defineContract, typed } from '@boardcast/core';
import { type EncodedEvent, type EncodedSnapshot, type HubSink, STATUS_EVENT } from '@boardcast/core/wire';
import { RedisBus, type RedisBusOptions } from '../src/index.js';

export const contract = defineContract({
  events: {
    tick: typed<number>(),
    led: typed<{ on: boolean }>(),
  },
  commands: {
    led: {
      input: typed<{ board: string; state: 'on' | 'off' }>(),
      result: typed<{ board: string; on: boolean; by: string }>(),
    },
  },
  state: typed<{ led: boolean; label: string }>(),
});

export type TestContract = typeof contract;
export const initialState = { led: false, label: 'initial' };

/** One server instance: a hub on its own RedisBus (its own three Redis connections). */
export async function instance(url: string, options: Omit<RedisBusOptions, 'redis'> = {}) {
  const bus = new RedisBus({ redis: url, name: 'test', ...options });
  const hub = createHub(contract, { state: initialState, bus });
  await bus.ready;
  await hub.ready;
  return { bus, hub };
}

export type Instance = Awaited<ReturnType<typeof instance>>;

/** Records what a transport would write to one client. */
export function recorder() {
  const log: string[] = [];
  const ids: string[] = [];
  /** Server status frames (`~status`), kept apart from the stream's events. */
  const statuses: string[] = [];
  const sink: HubSink = {
    snapshot: (s: EncodedSnapshot) => log.push(`snapshot:${s.json}@${s.headId ?? '-'}`),
    event: (e: EncodedEvent) => {
      if (e.event === STATUS_EVENT) {
        statuses.push(e.ws);
        return;
      }
      ids.push(e.id);
      log.push(`${e.event}:${e.json}@${e.id}`);
    },
    reset: (reason) => log.push(`reset:${reason}`),
  };
  return { log, ids, statuses, sink };
}

/**
 * A client as strict as a browser: it sees only the WebSocket frames a
 * transport would write, replaces its state on `snapshot` and folds `event`
 * frames through the contract's reducers, like the browser's state mirror.
 */
export function wireClient<S>(reducers: Readonly<Record<string, ((state: S, data: never) => S) | undefined>>) {
  const client = {
    state: undefined as S | undefined,
    lastId: undefined as string | undefined,
    resets: 0,
    sink: undefined as unknown as HubSink,
  };
  const onFrame = (frame: string) => {
    const message = JSON.parse(frame) as { type: string; event?: string; id?: string; data?: unknown };
    if (message.type === 'snapshot') {
      client.state = message.data as S;
      client.lastId = message.id;
    } else if (message.type === 'event') {
      if (client.state === undefined) throw new Error('event before snapshot');
      const reducer = message.event ? reducers[message.event] : undefined;
      if (reducer) client.state = reducer(client.state, message.data as never);
      client.lastId = message.id;
    }
  };
  client.sink = {
    snapshot: (s: EncodedSnapshot) => onFrame(s.ws),
    event: (e: EncodedEvent) => onFrame(e.ws),
    reset: () => {
      client.resets++;
    },
  };
  return client;
}
