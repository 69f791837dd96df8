import {
  BoardcastError,
  type CommandName,
  type CommandPayload,
  type CommandResult,
  type ContractSpec,
  type EventData,
  type EventName,
  type Hub,
  type StateOf,
  typed,
} from '@boardcast/core';
import type { Board, BoardStatus, Level, Pin, SensorReading } from './board.js';
import { Button } from './button.js';
import type { Led } from './led.js';
import type { Sensor } from './sensor.js';

// ---------------------------------------------------------------- wire shapes

export type LedCommandState = 'on' | 'off' | 'toggle';
export interface LedCommandInput {
  readonly state: LedCommandState;
}
export interface LedState {
  readonly on: boolean;
}
export interface PinChange {
  readonly pin: Pin;
  readonly value: Level;
}
export interface BoardStatusChange {
  readonly id: string;
  readonly status: BoardStatus;
}

/**
 * Contract entries for the shapes the binding helpers publish, to spread
 * into `defineContract` (`events: { ...boardEvents, time: typed<string>() }`).
 * Any contract whose entries accept these shapes works too, zod or valibot.
 */
export const boardEvents = {
  led: typed<LedState>(),
  pin_change: typed<PinChange>(),
  reading: typed<SensorReading>(),
  board: typed<BoardStatusChange>(),
};

/** `led: ledCommand` in a contract's commands. */
export const ledCommand = { input: typed<LedCommandInput>(), result: typed<LedState>() };

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

// Inside the helpers the contract is generic; the public signatures above
// have already proved the names and payloads fit, so the loose views below
// are only ever used with compatible values.
interface LooseHub {
  publish(event: string, data: unknown): Promise<string>;
  handle(command: string, handler: (input: unknown) => unknown): () => void;
  setState(update: (previous: unknown) => unknown): void;
}
function loose<C extends ContractSpec>(hub: Hub<C>): LooseHub {
  return hub as unknown as LooseHub;
}

// ---------------------------------------------------------------- Led

export type BindLedOptions<C extends ContractSpec> = NameOption<
  'command',
  CommandNamesFor<C, LedCommandInput, LedState>,
  'led'
> &
  NameOption<'event', EventNamesFor<C, LedState>, 'led'> & {
    /** Fold the confirmed state into the hub state (e.g. `(s, on) => ({ ...s, led: { on } })`). */
    readonly state?: (previous: StateOf<C>, on: boolean) => StateOf<C>;
  };

/**
 * A Led driven by a hub command (`{ state: 'on'|'off'|'toggle' }` → `{ on }`,
 * the value the board confirmed) and mirrored to a hub event and state on
 * every confirmed change, whoever caused it. Returns the unbind function.
 */
export function bindLed<C extends ContractSpec>(hub: Hub<C>, led: Led, ...rest: Rest<BindLedOptions<C>>): Unbind {
  const options = (rest[0] ?? {}) as {
    command?: string | false;
    event?: string | false;
    state?: BindLedOptions<C>['state'];
  };
  const h = loose(hub);
  const command = options.command ?? 'led';
  const event = options.event ?? 'led';
  const stateFn = options.state;
  const undo: Unbind[] = [];
  if (command !== false) {
    undo.push(
      h.handle(command, async (input) => {
        const state = (input as Partial<LedCommandInput> | null)?.state;
        if (state === 'on') return { on: await led.on() };
        if (state === 'off') return { on: await led.off() };
        if (state === 'toggle') return { on: await led.toggle() };
        throw new BoardcastError('invalid_payload', 'state must be "on", "off" or "toggle"');
      }),
    );
  }
  const publish = (on: boolean) => {
    if (stateFn) h.setState((s) => stateFn(s as StateOf<C>, on));
    if (event !== false) void h.publish(event, { on });
  };
  undo.push(led.onChange(publish));
  // The state is right from the start; an event is only for a change.
  const initial = led.isOn;
  if (initial !== undefined && stateFn) h.setState((s) => stateFn(s as StateOf<C>, initial));
  return () => {
    for (const fn of undo) fn();
  };
}

// ---------------------------------------------------------------- inputs

export type BindInputOptions<C extends ContractSpec> = NameOption<
  'event',
  EventNamesFor<C, PinChange>,
  'pin_change'
> & {
  /** Fold each change into the hub state (e.g. `(s, c) => ({ ...s, inputs: { ...s.inputs, [c.pin]: c.value } })`). */
  readonly state?: (previous: StateOf<C>, change: PinChange) => StateOf<C>;
};

/** Either a Button, or a raw input pin watched with its own debounce. */
export type InputSource = Button | { readonly board: Board; readonly pin: Pin; readonly debounceMs?: number };

/**
 * Buttons and input pins → `pin_change` events `{ pin, value }` (the raw,
 * debounced level) and hub state. A raw pin must already be in an input mode.
 */
export function bindInputs<C extends ContractSpec>(
  hub: Hub<C>,
  inputs: readonly InputSource[],
  ...rest: Rest<BindInputOptions<C>>
): Unbind {
  const options = (rest[0] ?? {}) as { event?: string | false; state?: BindInputOptions<C>['state'] };
  const h = loose(hub);
  const event = options.event ?? 'pin_change';
  const stateFn = options.state;
  const publish = (change: PinChange) => {
    if (stateFn) h.setState((s) => stateFn(s as StateOf<C>, change));
    if (event !== false) void h.publish(event, change);
  };
  const undo: Unbind[] = [];
  for (const input of inputs) {
    if (input instanceof Button) {
      const button = input;
      undo.push(button.on('change', (_pressed, level) => publish({ pin: button.pin, value: level })));
      void button.ready.then(
        () => {
          if (button.level !== undefined && stateFn) {
            const change = { pin: button.pin, value: button.level };
            h.setState((s) => stateFn(s as StateOf<C>, change));
          }
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

export type BindSensorOptions<C extends ContractSpec> = NameOption<
  'event',
  EventNamesFor<C, SensorReading>,
  'reading'
> & {
  readonly state?: (previous: StateOf<C>, reading: SensorReading) => StateOf<C>;
};

/** A Sensor's `change` samples → `reading` events `{ sensor, value, at }` and hub state. */
export function bindSensor<C extends ContractSpec>(
  hub: Hub<C>,
  sensor: Sensor,
  ...rest: Rest<BindSensorOptions<C>>
): Unbind {
  const options = (rest[0] ?? {}) as { event?: string | false; state?: BindSensorOptions<C>['state'] };
  const h = loose(hub);
  const event = options.event ?? 'reading';
  const stateFn = options.state;
  return sensor.on('change', (reading) => {
    if (stateFn) h.setState((s) => stateFn(s as StateOf<C>, reading));
    if (event !== false) void h.publish(event, reading);
  });
}

export type BindBoardStatusOptions<C extends ContractSpec> = NameOption<
  'event',
  EventNamesFor<C, BoardStatusChange>,
  'board'
> & {
  readonly state?: (previous: StateOf<C>, change: BoardStatusChange) => StateOf<C>;
};

/** Board status → `board` events `{ id, status }` (and the current status into state at once). */
export function bindBoardStatus<C extends ContractSpec>(
  hub: Hub<C>,
  board: Board,
  ...rest: Rest<BindBoardStatusOptions<C>>
): Unbind {
  const options = (rest[0] ?? {}) as { event?: string | false; state?: BindBoardStatusOptions<C>['state'] };
  const h = loose(hub);
  const event = options.event ?? 'board';
  const stateFn = options.state;
  const apply = (status: BoardStatus) => {
    const change = { id: board.id, status };
    if (stateFn) h.setState((s) => stateFn(s as StateOf<C>, change));
    return change;
  };
  apply(board.status);
  return board.on('status', (status) => {
    const change = apply(status);
    if (event !== false) void h.publish(event, change);
  });
}
