import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as v from 'valibot';
import { z } from 'zod';
import { type BoardcastRequest, type Bus, type BusListener, defineContract, MemoryBus, typed } from '../src/index.js';
import type { HubSink, SinceResult } from '../src/wire.js';

/** The LED/button contract the seeds describe, mixing schema and type-only entries. */
export const ledContract = defineContract({
  events: {
    led: z.object({ on: z.boolean() }),
    pin_change: typed<{ pin: string; value: 0 | 1 }>(),
    time: typed<string>(),
  },
  commands: {
    led: {
      input: z.object({ state: z.enum(['on', 'off', 'toggle']) }),
      result: typed<{ on: boolean }>(),
    },
    blink: {
      input: v.object({ times: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10)) }),
      result: v.object({ done: v.boolean() }),
    },
    slow: { input: typed<null>(), result: typed<string>() },
  },
  state: typed<{ led: { on: boolean }; inputs: Record<string, 0 | 1> }>(),
});

export const initialState = { led: { on: false }, inputs: { button: 0 as 0 | 1 } };

/** One `tick` event that adds to a count: the smallest contract with a reducer, for channel tests. */
export const tickContract = defineContract({
  events: { tick: typed<number>() },
  commands: {},
  state: typed<{ ticks: number }>(),
  reducers: { tick: (state, n) => ({ ticks: state.ticks + n }) },
});

/** A frame a test client received, as its WS envelope (the fields the channel tests read). */
export interface Frame {
  type: string;
  channel?: string;
  event?: string;
  id?: string | null;
  data?: unknown;
  reason?: string;
  error?: { code: string };
}

/** A hub sink that records every frame it receives, as the WS envelope, in `frames`. */
export function frameSink(): { frames: Frame[]; sink: HubSink } {
  const frames: Frame[] = [];
  const sink: HubSink = {
    snapshot: (s) => frames.push(JSON.parse(s.ws) as Frame),
    event: (e) => frames.push(JSON.parse(e.ws) as Frame),
    reset: (reason) => frames.push({ type: 'reset', reason }),
  };
  return { frames, sink };
}

/**
 * A Bus that forwards its required calls, `compareIds` and ids to `inner`
 * (a MemoryBus, as strict as a bus is about ids and history): the base of
 * the tests' bus doubles, which override only what they change. The
 * optional capabilities (`channelStats`, checkpoints, status) are left out:
 * a double that has them says so.
 */
export class ForwardingBus implements Bus {
  constructor(readonly inner: MemoryBus = new MemoryBus()) {}
  get headId(): string | undefined {
    return this.inner.headId;
  }
  get originId(): string | undefined {
    return this.inner.originId;
  }
  publish(event: string, data: unknown, json: string, channel?: string): string {
    return this.inner.publish(event, data, json, channel);
  }
  subscribe(listener: BusListener): () => void {
    return this.inner.subscribe(listener);
  }
  since(lastId: string, channel?: string): SinceResult | Promise<SinceResult> {
    return this.inner.since(lastId, channel);
  }
  compareIds(a: string, b: string): number | undefined {
    return this.inner.compareIds(a, b);
  }
  close(): void {
    this.inner.close();
  }
}

export type SinceAnswer = ReturnType<MemoryBus['since']>;

/**
 * A MemoryBus whose `since` answers later, as a remote bus does: `later`
 * gets the in-memory answer (a thunk: call it when the bus would read) and
 * resolves with it when the test lets it.
 */
export function laterSinceBus(later: (answer: () => SinceAnswer) => Promise<SinceAnswer>): Bus {
  return new (class extends ForwardingBus {
    override since(id: string, channel?: string) {
      return later(() => this.inner.since(id, channel));
    }
  })();
}

/** A MemoryBus whose `since` answers once `gate` resolves. */
export function gatedBus(gate: Promise<void>): Bus {
  return laterSinceBus(async (answer) => {
    const value = answer();
    await gate;
    return value;
  });
}

/**
 * A request as the endpoint policy (`checkRequest`, `withClient`) sees it:
 * `headers` by lower-case name, anything else from `extra`. The policy reads
 * headers and the peer only, never the path.
 */
export function policyRequest(
  headers: Record<string, string>,
  extra: Partial<BoardcastRequest> = {},
): BoardcastRequest {
  return {
    method: 'GET',
    url: new URL('http://localhost/ws'),
    header: (name) => headers[name.toLowerCase()],
    raw: undefined,
    ...extra,
  };
}

/** The socket `withClient` reads: its peer address and whether it is TLS. */
export const peer = (remoteAddress: string | undefined, encrypted = false) => ({ remoteAddress, encrypted });

/**
 * Answers given later, as a policy or validator that looks something up
 * does, and a wait for all of them. `later(value)` resolves after `ms`
 * (default 2) on a timer; `settle()` resolves once nothing is waiting for an
 * answer across three looks 10 ms apart (an answer can start the next
 * request in a chain, so one look is not enough). A fixed sleep instead
 * raced a chain of answers on a loaded machine: a request made 18 ms into a
 * 20 ms sleep was answered after it.
 */
export function laterAnswers(): { later<T>(value: T, ms?: number): Promise<T>; settle(): Promise<void> } {
  let waiting = 0;
  return {
    later(value, ms = 2) {
      waiting++;
      return new Promise((resolve) =>
        setTimeout(() => {
          waiting--;
          resolve(value);
        }, ms),
      );
    },
    async settle() {
      for (let quiet = 0; quiet < 3; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        quiet = waiting === 0 ? quiet + 1 : 0;
      }
    },
  };
}

/**
 * V8's full garbage collection, for tests of what stays reachable (`WeakRef`)
 * or of what a structure keeps (heap in use after it). Two passes: the first
 * may only schedule finalization.
 */
export function fullGc(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** Heap in use after a turn (so pending jobs finish) and a full collection, in bytes. */
export async function heapAfterGc(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  fullGc();
  return process.memoryUsage().heapUsed;
}
