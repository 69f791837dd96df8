import type { ClientContract, ContractSpec, StateOf } from '../src/index.js';
import type { EncodedEvent, EncodedSnapshot, HubSink } from '../src/wire.js';

/**
 * A client as strict as a browser: it sees only the WebSocket frames a
 * transport would write (never the hub's objects), replaces its state on a
 * `snapshot` frame and folds `event` frames through the contract's reducers,
 * exactly like the browser's state mirror.
 */
export function wireClient<C extends ContractSpec>(contract: C | ClientContract<C>) {
  const reducers = (contract.reducers ?? {}) as Record<string, ((s: unknown, d: unknown) => unknown) | undefined>;
  const client = {
    state: undefined as StateOf<C> | undefined,
    lastId: undefined as string | undefined,
    snapshots: 0,
    frames: [] as string[],
    sink: undefined as unknown as HubSink,
  };
  const onFrame = (frame: string) => {
    client.frames.push(frame);
    const message = JSON.parse(frame) as { type: string; event?: string; id?: string; data?: unknown };
    if (message.type === 'snapshot') {
      client.state = message.data as StateOf<C>;
      client.snapshots++;
      client.lastId = message.id;
    } else if (message.type === 'event') {
      if (client.state === undefined) throw new Error('event before snapshot');
      const reducer = message.event ? reducers[message.event] : undefined;
      if (reducer) client.state = reducer(client.state, message.data) as StateOf<C>;
      client.lastId = message.id;
    }
  };
  client.sink = {
    snapshot: (s: EncodedSnapshot) => onFrame(s.ws),
    event: (e: EncodedEvent) => onFrame(e.ws),
    reset: () => undefined,
  };
  return client;
}
