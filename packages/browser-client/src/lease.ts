import type { ContractSpec } from '@boardcast/core';
import type { BoardcastClient } from './client.js';

/**
 * A client opened on first use and closed when nobody holds it any more:
 * what UI bindings (`@boardcast/react`, `@boardcast/vue`) build on. Nothing
 * connects when it is made (so a module can make one at import, also on a
 * server), only on the first `acquire()` — which UI frameworks call from
 * mount-time code that never runs in a server render.
 */
export interface ClientLease<C extends ContractSpec> {
  /** The client while someone holds it (or within `graceMs` after the last release); else `undefined`. */
  readonly client: BoardcastClient<C> | undefined;
  /**
   * Hold the client, opening it if there is none, and return it. Each call
   * must be matched by one {@link release}.
   */
  acquire(): BoardcastClient<C>;
  /**
   * Give back one hold. After the last one the client is closed once
   * `graceMs` has passed without a new hold: React StrictMode's unmount and
   * mount again, or a route change that mounts the same view, keeps the
   * connection. A release with no hold does nothing.
   */
  release(): void;
  /** Called after a client is opened or closed (for bindings that cache it). */
  onChange(listener: () => void): () => void;
}

/**
 * Make a lease around `open` (usually `() => connect(url, contract, options)`).
 * `graceMs`: how long the client outlives its last holder (default 1000 ms).
 */
export function createClientLease<C extends ContractSpec>(
  open: () => BoardcastClient<C>,
  graceMs = 1000,
): ClientLease<C> {
  let client: BoardcastClient<C> | undefined;
  let holders = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const listener of [...listeners]) listener();
  };
  const lease: ClientLease<C> = {
    get client() {
      return client;
    },
    acquire() {
      holders++;
      clearTimeout(timer);
      timer = undefined;
      // A client that stopped for good (a fatal error) stays, so its error can be shown.
      if (!client) {
        client = open();
        changed();
      }
      return client;
    },
    release() {
      if (holders === 0) return;
      if (--holders > 0) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (holders > 0 || !client) return;
        const closing = client;
        client = undefined;
        closing.close();
        changed();
      }, graceMs);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return lease;
}
