import { BoardcastError, type Channel, type ContractSpec, type Hub } from '@boardcast/core';
import { type BindBoardStatusOptions, eventOption, loose, publishBoardStatus } from './bind.js';
import type { Board } from './board.js';
import { type RegisterBoardOptions, registerBoard } from './fleet.js';

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
 * its listeners. Throws `closed` (the board is closed), `busy` (already
 * registered: unregister first), and the hub's `invalid_payload` (a bad
 * channel id) or `too_many_channels`.
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
  const channel = hub.channel(id);
  const firmware = options?.firmware ?? slot.firmware;
  const offs = [
    registerBoard(channel, board, {
      ...(options?.kind === undefined ? {} : { kind: options.kind }),
      ...(options?.name === undefined ? {} : { name: options.name }),
      ...(firmware === undefined ? {} : { firmware }),
    }),
    // BoardChannelOptions<C> proved that the event name fits C's contract.
    publishBoardStatus(loose(channel), board, eventOption(options, 'board')),
  ];
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
