import { BoardcastError, type Channel, type ContractSpec, type Hub } from '@boardcast/core';
import { type BindBoardStatusOptions, eventOption, loose, publishReported } from './bind.js';
import type { Board } from './board.js';
import { attachBoard, type RegisterBoardOptions } from './fleet.js';

/**
 * Options of `board.register(hub, channel, options)`: the directory entry's
 * `firmware`, `name` and `kind` ({@link RegisterBoardOptions}), and `event`,
 * the contract's status event (default `board`, payload `{ id, status }`;
 * required when the contract has no `board` event that takes that shape,
 * `false` to keep status out of the channel's state).
 */
export type BoardChannelOptions<C extends ContractSpec> = RegisterBoardOptions & BindBoardStatusOptions<C>;

/** The options argument of `register`: optional when the default status event fits the contract. */
export type BoardChannelArgs<C extends ContractSpec> =
  {} extends BoardChannelOptions<C> ? [options?: BoardChannelOptions<C>] : [options: BoardChannelOptions<C>];

/** A board registered as a channel of a hub (`board.register(hub, id)`). */
export interface BoardChannel<C extends ContractSpec> {
  /** The board's channel: bind its LEDs, inputs and sensors here (`bindLed(registered.channel, led)`). */
  readonly channel: Channel<C>;
  /**
   * Stop following the board: its status and readings no longer reach the
   * channel. The directory entry and the state stay as they were
   * (`channel.remove()` removes them). Idempotent.
   */
  unregister(): void;
}

/** What a board class hands to {@link registerOn} besides itself. */
export interface RegistrationSlot {
  /** The registration in force, if any (one per board). */
  current: BoardChannel<ContractSpec> | undefined;
  /** True once the board is closed. */
  readonly closed: boolean;
  /** Firmware shown when the program names none. */
  readonly firmware?: string | undefined;
}

/**
 * The one implementation behind `SimulatedBoard.register` and
 * `LinuxGpioBoard.register`: the channel `id` of `hub`, its directory entry
 * (registerBoard: kind, status, firmware, capabilities, lastSeen) and the
 * status as channel state (bindBoardStatus). A board closing or its helper
 * dying emits `status` `offline`, which reaches both before the board drops
 * its listeners. Throws `closed` (the board or the hub is closed), `busy`
 * (this board is already registered, or another board holds the channel:
 * registerBoard's one rule per hub), `invalid_payload` (the contract has no
 * such status event, or a bad channel id) or the hub's `too_many_channels`.
 * Once the hub is closed the board's status no longer reaches the channel.
 */
export function registerOn<C extends ContractSpec>(
  board: Board,
  slot: RegistrationSlot,
  hub: Hub<C>,
  id: string,
  options: BoardChannelOptions<C> | undefined,
): BoardChannel<C> {
  if (slot.closed) throw new BoardcastError('closed', `board "${board.id}" is closed`);
  if (slot.current) {
    throw new BoardcastError(
      'busy',
      `board "${board.id}" is already registered as channel "${slot.current.channel.id}"; unregister() first`,
      { details: { board: board.id, channel: slot.current.channel.id } },
    );
  }
  if (hub.closed) {
    throw new BoardcastError('closed', `hub is closed: board "${board.id}" cannot register as channel "${id}"`);
  }
  const event = eventOption(options, 'board');
  // Plain JS (or a cast) can get past BoardChannelArgs: without this the
  // first publish would only surface as a hub `error` (`unknown event`).
  if (event !== false && !Object.hasOwn(hub.contract.events, event)) {
    throw new BoardcastError(
      'invalid_payload',
      `unknown event "${event}": the contract has no event for board "${board.id}"'s status; pass { event: '<name>' }, or { event: false } for the directory entry only`,
      { details: { board: board.id, event } },
    );
  }
  const channel = hub.channel(id);
  const firmware = options?.firmware ?? slot.firmware;
  const offs = [
    attachBoard(
      channel,
      board,
      {
        ...(options?.kind === undefined ? {} : { kind: options.kind }),
        ...(options?.name === undefined ? {} : { name: options.name }),
        ...(firmware === undefined ? {} : { firmware }),
      },
      // Another registration that takes the channel (this board's successor
      // with the same id) ends all of this one, status included.
      { closed: () => slot.closed, release: () => registration.unregister() },
    ),
  ];
  if (event !== false) {
    // BoardChannelOptions<C> proved (and the check above made sure) that the event fits C's contract.
    const publish = () => {
      // A closed hub has dropped its error listeners: nothing to report to.
      if (!hub.closed) publishReported(loose(channel), event, { id: board.id, status: board.status });
    };
    publish();
    offs.push(board.on('status', publish));
  }
  const registration: BoardChannel<C> = {
    channel,
    unregister() {
      for (const off of offs.splice(0)) off();
      if (slot.current === (registration as BoardChannel<ContractSpec>)) slot.current = undefined;
    },
  };
  slot.current = registration as BoardChannel<ContractSpec>;
  return registration;
}
