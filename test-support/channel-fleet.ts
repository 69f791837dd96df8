/**
 * The fleet the SSE and WebSocket channel tests share: a hub with board-1
 * and board-2, each answering `bump` with its channel; alice sees and drives
 * everything, bob board-1 only, carol both.
 */
import { accessTable, createHub, defineContract, type Hub, type HubOptions, typed } from '@boardcast/core';

export const fleetContract = defineContract({
  events: { tick: typed<number>(), blob: typed<string>() },
  commands: { bump: { input: typed<{ by: number }>(), result: typed<{ channel: string }>() } },
  state: typed<{ ticks: number; last: number }>(),
  reducers: { tick: (state, n) => ({ ticks: state.ticks + 1, last: n }) },
});
export type FleetHub = Hub<typeof fleetContract>;
export const fleetInitial = { ticks: 0, last: 0 };

/** `ran`: `channel:principal` of every `bump` that ran; `access` may be changed (then `hub.invalidateAccess`). */
export function channelFleet(options: Partial<HubOptions<typeof fleetContract>> = {}) {
  const access = accessTable({
    alice: { see: ['*'], control: ['*'] },
    bob: { see: ['board-1'], control: ['board-1'] },
    carol: { see: ['board-1', 'board-2'], control: ['board-1', 'board-2'] },
  });
  const hub: FleetHub = createHub(fleetContract, { state: fleetInitial, access, ...options });
  const ran: string[] = [];
  for (const id of ['board-1', 'board-2']) {
    hub.channel(id).handle('bump', (_input, context) => {
      ran.push(`${context.channel}:${context.principal}`);
      return { channel: context.channel };
    });
  }
  return { hub, access, ran };
}
