import { type EncodedEvent, STATE_EVENT, STATUS_EVENT } from './encoded-event.js';
import type { SinceResult } from './history.js';
import type { EncodedSnapshot } from './snapshot.js';

/** What a transport implements to receive a client's stream. */
export interface HubSink {
  snapshot(snapshot: EncodedSnapshot): void;
  event(event: EncodedEvent): void;
  reset(reason: string): void;
}

/** The parts of a hub an attachment needs while it starts and lives. */
export interface AttachmentHost {
  readonly subscribers: Set<(event: EncodedEvent) => void>;
  snapshot(): EncodedSnapshot;
  /** The server status frame a stream starts with, when the bus reports its health. */
  status(): EncodedEvent | undefined;
  since(lastId: string): SinceResult | Promise<SinceResult>;
  report(error: unknown, where: string): void;
}

function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<T>).then === 'function';
}

/** Events in `pending` up to and including the one with `id` (none when absent). */
function upTo(id: string | undefined, pending: readonly EncodedEvent[]): ReadonlySet<EncodedEvent> {
  const index = id === undefined ? -1 : pending.findIndex((e) => e.id === id);
  return new Set(pending.slice(0, index + 1));
}

/**
 * One client's stream. It is an object with two bound functions rather than
 * a nest of closures: a server holds one per connected client, and a closure
 * scope would keep every start-up helper alive for the whole connection.
 *
 * Start-up subscribes first and buffers, sends the server status frame
 * when the bus reports its health, then the snapshot (fresh
 * connection), the missed events (resume) or `reset` + snapshot (gap), then
 * flushes the buffer minus what the start already covered — so nothing is
 * lost or duplicated even when the bus answers `since()` asynchronously.
 */
export class Attachment {
  #buffer: EncodedEvent[] | undefined = [];
  #detached = false;
  readonly #host: AttachmentHost;
  readonly #sink: HubSink;
  readonly #filter: ReadonlySet<string> | undefined;

  constructor(host: AttachmentHost, sink: HubSink, filter: ReadonlySet<string> | undefined) {
    this.#host = host;
    this.#sink = sink;
    this.#filter = filter && filter.size > 0 ? filter : undefined;
  }

  /** The live path: once per client per event, no allocation. */
  readonly deliver = (event: EncodedEvent): void => {
    if (this.#filter && !this.#filter.has(event.event) && event.event !== STATE_EVENT && event.event !== STATUS_EVENT) {
      return;
    }
    if (this.#buffer) {
      this.#buffer.push(event);
      return;
    }
    if (this.#detached) return;
    try {
      this.#sink.event(event);
    } catch (error) {
      this.#host.report(error, 'sink');
    }
  };

  readonly detach = (): void => {
    if (this.#detached) return;
    this.#detached = true;
    this.#buffer = undefined;
    this.#host.subscribers.delete(this.deliver);
  };

  start(lastEventId: string | null | undefined): void {
    if (this.#detached) return;
    this.#host.subscribers.add(this.deliver);
    // First, before the snapshot or the replay (which may wait for the bus):
    // a client learns at once that the server cannot reach its bus.
    const status = this.#host.status();
    if (status) this.#call('event', status);
    if (!lastEventId) {
      const head = this.#sendSnapshot();
      this.#flush(upTo(head, this.#buffer ?? []), undefined);
      return;
    }
    let result: SinceResult | Promise<SinceResult>;
    try {
      result = this.#host.since(lastEventId);
    } catch (error) {
      this.#host.report(error, 'bus.since');
      result = { kind: 'gap' };
    }
    if (isPromiseLike<SinceResult>(result)) {
      result.then(
        (answer) => this.#onSince(answer, lastEventId),
        (error) => {
          this.#host.report(error, 'bus.since');
          this.#onSince({ kind: 'gap' }, lastEventId);
        },
      );
    } else {
      this.#onSince(result, lastEventId);
    }
  }

  #onSince(result: SinceResult, lastEventId: string): void {
    if (this.#detached) return;
    if (result.kind === 'gap') {
      this.#call('reset', 'history');
      const head = this.#sendSnapshot();
      this.#flush(upTo(head, this.#buffer ?? []), undefined);
      return;
    }
    const replayed = new Set<string>();
    for (const event of result.events) {
      replayed.add(event.id);
      // A state change is part of the state whatever events the client asked for.
      if (!this.#filter || this.#filter.has(event.event) || event.event === STATE_EVENT) this.#call('event', event);
    }
    // A distributed bus may deliver `lastEventId` itself (and what precedes
    // it) to this instance only after the client attached: the client
    // already has those, so skip everything up to it as well as the replay.
    this.#flush(upTo(lastEventId, this.#buffer ?? []), replayed);
  }

  #sendSnapshot(): string | undefined {
    const snapshot = this.#host.snapshot();
    this.#call('snapshot', snapshot);
    return snapshot.headId;
  }

  /** Deliver what arrived while starting, minus what the start covered. */
  #flush(covered: ReadonlySet<EncodedEvent>, replayed: ReadonlySet<string> | undefined): void {
    const pending = this.#buffer ?? [];
    this.#buffer = undefined;
    for (const event of pending) {
      if (covered.has(event) || replayed?.has(event.id)) continue;
      this.#call('event', event);
    }
  }

  #call<K extends keyof HubSink>(method: K, arg: Parameters<HubSink[K]>[0]): void {
    if (this.#detached) return;
    try {
      (this.#sink[method] as (value: typeof arg) => void)(arg);
    } catch (error) {
      this.#host.report(error, 'sink');
    }
  }
}
