import {
  BoardcastError,
  type Channel,
  type CommandContext,
  type CommandName,
  type CommandPayload,
  type CommandResult,
  type ContractSpec,
  type EventData,
  type EventName,
  type Hub,
} from '@boardcast/core';
import type { Board, BoardStatus, Pin, SensorReading } from './board.js';
import { Button } from './button.js';
import type { BoardStatusChange, LedCommandInput, LedState, PinChange } from './contract.js';
import type { Led } from './led.js';
import type { Sensor } from './sensor.js';

// ---------------------------------------------------------------- name typing

/** Event names of `C` whose payload type accepts `D`. */
export type EventNamesFor<C extends ContractSpec, D> = {
  [K in EventName<C>]: [D] extends [EventData<C, K>] ? K : never;
}[EventName<C>];

/** Command names of `C` whose validated input is an `I` and whose result accepts `R`. */
export type CommandNamesFor<C extends ContractSpec, I, R> = {
  [K in CommandName<C>]: [CommandPayload<C, K>] extends [I] ? ([R] extends [CommandResult<C, K>] ? K : never) : never;
}[CommandName<C>];

/** Optional when the default name fits the contract, required otherwise; `false` turns that part off. */
type NameOption<Key extends string, Allowed extends string, Default extends string> = [Default] extends [Allowed]
  ? { readonly [P in Key]?: Allowed | false }
  : { readonly [P in Key]: Allowed | false };

type Rest<O> = {} extends O ? [options?: O] : [options: O];

type Unbind = () => void;

/** The `event` option of a helper (its signature proved the name fits the contract), or its default. */
export function eventOption(options: unknown, fallback: string): string | false {
  return (options as { event?: string | false } | undefined)?.event ?? fallback;
}

/**
 * A hub or channel seen without its contract. Inside the helpers the
 * contract is generic; a public signature that has already proved the
 * names and payloads fit (e.g. through {@link EventNamesFor} or
 * {@link CommandNamesFor}) uses this view, and only with compatible values.
 * State is never touched here: the contract's reducers fold what the
 * helpers publish. Package-internal (not exported from the package root).
 */
export interface LooseHub {
  publish(event: string, data: unknown): Promise<string>;
  handle(command: string, handler: (input: unknown, context: CommandContext) => unknown): () => void;
}

/** The one cast from a typed hub or channel to {@link LooseHub}; see there for when it is sound. */
export function loose<C extends ContractSpec>(hub: HubTarget<C>): LooseHub {
  return hub as unknown as LooseHub;
}

/**
 * Publish from a board callback, where nobody can await. A failed publish
 * (a shared bus full or gone: `queue_full`, `bus_unavailable`; a closed hub:
 * `closed`; a payload the contract's validator refuses: `invalid_payload`)
 * is reported by the hub itself on its `error` event, `where` = `'publish'`
 * (core README, _The error route_), once, like every other publish. The
 * rejection is consumed here so that it can never also become an unhandled
 * rejection, which ends a Node process: a board event must not depend on
 * how the hub happens to chain its own report. Package-internal.
 */
export function publishReported(target: LooseHub, event: string, data: unknown): void {
  target.publish(event, data).catch(() => undefined);
}

/**
 * What a bind helper calls on each board event: {@link publishReported} on
 * `target`, and nothing once the hub (a channel's hub) is closed. A closed
 * hub has dropped its `error` listeners, so each refusal would otherwise be
 * a `console.error` trace per LED change, edge or sample of a board the app
 * has not closed yet (shutting down in that order is common); board.register
 * keeps the same silence. Package-internal.
 */
function publisher<C extends ContractSpec>(target: HubTarget<C>, event: string): (data: unknown) => void {
  // A channel knows its hub; duck-typed, so a hub from another copy of core (ESM beside CJS) works too.
  const hub: Hub<C> = 'hub' in target ? target.hub : target;
  const h = loose(target);
  return (data) => {
    if (!hub.closed) publishReported(h, event, data);
  };
}

/**
 * Where a binding publishes and handles: the hub (its default channel, a
 * single-board app) or one channel of it (`hub.channel('board-1')`, a
 * fleet: each board its own channel, the same reducers per channel).
 */
export type HubTarget<C extends ContractSpec> = Hub<C> | Channel<C>;

// ---------------------------------------------------------------- Led

export type BindLedOptions<C extends ContractSpec> = NameOption<
  'command',
  CommandNamesFor<C, LedCommandInput, LedState>,
  'led'
> &
  NameOption<'event', EventNamesFor<C, LedState>, 'led'>;

/**
 * A Led driven by a hub command (`{ state: 'on'|'off'|'toggle' }` → `{ on }`,
 * the value the board confirmed) and published as a hub event on every
 * confirmed change, whoever caused it — and once at bind time when the state
 * is already known, so the contract's reducer (e.g. `boardReducers.led`)
 * has it in the snapshot from the start. The command passes its
 * `context.signal` and `context.deadline` to the board, so an operation
 * whose command timed out never runs. Returns the unbind function.
 */
export function bindLed<C extends ContractSpec>(hub: HubTarget<C>, led: Led, ...rest: Rest<BindLedOptions<C>>): Unbind {
  const options = (rest[0] ?? {}) as { command?: string | false; event?: string | false };
  const h = loose(hub);
  const command = options.command ?? 'led';
  const event = options.event ?? 'led';
  const undo: Unbind[] = [];
  if (command !== false) {
    undo.push(
      h.handle(command, async (input, { signal, deadline }) => {
        const state = (input as Partial<LedCommandInput> | null)?.state;
        const op = { signal, deadline };
        if (state === 'on') return { on: await led.turnOn(op) };
        if (state === 'off') return { on: await led.turnOff(op) };
        if (state === 'toggle') return { on: await led.toggle(op) };
        throw new BoardcastError('invalid_payload', 'state must be "on", "off" or "toggle"');
      }),
    );
  }
  if (event !== false) {
    const publish = publisher(hub, event);
    undo.push(led.on('change', (on) => publish({ on })));
    const initial = led.isOn;
    if (initial !== undefined) publish({ on: initial });
  }
  return () => {
    for (const fn of undo) fn();
  };
}

// ---------------------------------------------------------------- inputs

export type BindInputOptions<C extends ContractSpec> = NameOption<'event', EventNamesFor<C, PinChange>, 'pin_change'>;

/** Either a Button, or a raw input pin watched with its own debounce. */
export type InputSource = Button | { readonly board: Board; readonly pin: Pin; readonly debounceMs?: number };

/**
 * Buttons and input pins → `pin_change` events `{ pin, value }` (the raw,
 * debounced level). A Button's level is also published once it is known,
 * so the state (through e.g. `boardReducers.pin_change`) is right from the
 * start. A raw pin must already be in an input mode.
 */
export function bindInputs<C extends ContractSpec>(
  hub: HubTarget<C>,
  inputs: readonly InputSource[],
  ...rest: Rest<BindInputOptions<C>>
): Unbind {
  const event = eventOption(rest[0], 'pin_change');
  if (event === false) return () => undefined;
  const publish: (change: PinChange) => void = publisher(hub, event);
  const undo: Unbind[] = [];
  for (const input of inputs) {
    if (input instanceof Button) {
      const button = input;
      let unbound = false;
      undo.push(
        button.on('change', (_pressed, level) => publish({ pin: button.pin, value: level })),
        () => {
          unbound = true;
        },
      );
      void button.ready.then(
        () => {
          if (!unbound && button.level !== undefined) publish({ pin: button.pin, value: button.level });
        },
        () => undefined,
      );
    } else {
      const { board, pin } = input;
      undo.push(
        board.watch(pin, { edge: 'both', debounceMs: input.debounceMs ?? 0 }, (e) => publish({ pin, value: e.value })),
      );
    }
  }
  return () => {
    for (const fn of undo) fn();
  };
}

// ---------------------------------------------------------------- sensors and status

export type BindSensorOptions<C extends ContractSpec> = NameOption<'event', EventNamesFor<C, SensorReading>, 'reading'>;

/** A Sensor's `change` samples → `reading` events `{ sensor, value, at }`. */
export function bindSensor<C extends ContractSpec>(
  hub: HubTarget<C>,
  sensor: Sensor,
  ...rest: Rest<BindSensorOptions<C>>
): Unbind {
  const event = eventOption(rest[0], 'reading');
  if (event === false) return () => undefined;
  const publish = publisher(hub, event);
  return sensor.on('change', (reading) => publish(reading));
}

export type BindBoardStatusOptions<C extends ContractSpec> = NameOption<
  'event',
  EventNamesFor<C, BoardStatusChange>,
  'board'
>;

/**
 * Board status → `board` events `{ id, status }`: the current status at once,
 * then every change. (`board.register(hub, id)` does this for the board's
 * channel, with its directory entry.)
 */
export function bindBoardStatus<C extends ContractSpec>(
  hub: HubTarget<C>,
  board: Board,
  ...rest: Rest<BindBoardStatusOptions<C>>
): Unbind {
  const event = eventOption(rest[0], 'board');
  if (event === false) return () => undefined;
  const publish = publisher(hub, event);
  const status = (value: BoardStatus) => publish({ id: board.id, status: value });
  status(board.status);
  return board.on('status', status);
}
