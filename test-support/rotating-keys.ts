/**
 * The credential store of the key-rotation tests (issue 22), shared by the
 * SSE and WebSocket transports: one current key per user, and a fleet hub
 * whose policy gives rights only to a current key.
 */
import { accessTable, createHub } from '@boardcast/core';
import { type FleetHub, fleetContract, fleetInitial } from './channel-fleet.js';

/**
 * `keys`: the current key of each user (alice `k1`, bob `b1`); the program
 * rotates one with `keys.set` and then calls `hub.invalidateAccess`.
 * `holder(token)` is what `authorize` answers for a `user:key` token: who
 * holds it while the key is current, else `false`. The principal id names
 * the credential (`alice:k1`), not the user: the hub shares a decision among
 * the connections of one id (directory changes are decided once per id), so
 * one id must mean one set of rights.
 */
export function rotatingKeysFleet(): {
  hub: FleetHub;
  keys: Map<string, string>;
  holder(token: string): { id: string; key: string } | false;
} {
  const keys = new Map([
    ['alice', 'k1'],
    ['bob', 'b1'],
  ]);
  const table = accessTable({ alice: { see: ['*'] }, bob: { see: ['*'] } });
  const hub: FleetHub = createHub(fleetContract, {
    state: fleetInitial,
    access: {
      principalId: (p: unknown) => `${(p as { id: string }).id}:${(p as { key: string }).key}`,
      canSee: (p: unknown, channel: string) =>
        keys.get((p as { id: string }).id) === (p as { key: string }).key && table.canSee(p, channel) === true,
    },
  });
  const holder = (token: string) => {
    const [user = '', key = ''] = token.split(':');
    return keys.get(user) === key ? { id: user, key } : false;
  };
  return { hub, keys, holder };
}
