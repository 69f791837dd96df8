import type { DirectoryEntry, DirectoryPage } from '@boardcast/core';
import type { DirectoryQuery } from './channel-link.js';
import { callAll, type Listener } from './listeners.js';

/**
 * The directory as a live list: the page the server sent as the
 * `~directory` snapshot, kept current by its `entry` events (the full entry
 * after a change, or `{id, removed: true}`). `subscribe`/`getSnapshot` are
 * bound, for `useSyncExternalStore` and friends.
 */
export interface DirectoryMirror {
  /** `{entries, total}` (entries sorted by id); `undefined` before the first directory snapshot. */
  readonly state: DirectoryPage | undefined;
  getSnapshot(): DirectoryPage | undefined;
  subscribe(listener: () => void): () => void;
  /** Called with the new page on every change; returns the unsubscribe function. */
  on(event: 'change', listener: (page: DirectoryPage | undefined) => void): () => void;
  /** Replace the page (a directory snapshot; `undefined` when the directory leaves the set). */
  replace(page: DirectoryPage | undefined): void;
  /** Fold one `entry` event. */
  apply(data: unknown): void;
}

const byId = (a: DirectoryEntry, b: DirectoryEntry) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Entries are kept in id order, and an entry that stops matching the
 * query's `kind`/`status` leaves the page, as the server's page would have
 * it. With `offset`/`limit`, a new entry is inserted when it sorts inside
 * the page shown (or the page is not full); `total` counts it either way.
 */
export function createDirectoryMirror(query: () => DirectoryQuery | undefined): DirectoryMirror {
  let page: DirectoryPage | undefined;
  const listeners = new Set<Listener>();
  const changes = new Set<Listener>();
  const set = (next: DirectoryPage | undefined) => {
    page = next;
    callAll(listeners, []);
    callAll(changes, [next]);
  };
  return {
    get state() {
      return page;
    },
    getSnapshot: () => page,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    on(_event, listener) {
      changes.add(listener);
      return () => {
        changes.delete(listener);
      };
    },
    replace: set,
    apply(data) {
      if (!page || data === null || typeof data !== 'object') return;
      const entry = data as DirectoryEntry & { removed?: unknown };
      if (typeof entry.id !== 'string') return;
      const q = query();
      const entries = page.entries.filter((e) => e.id !== entry.id);
      const had = entries.length < page.entries.length;
      const matches =
        entry.removed !== true &&
        (q?.kind === undefined || entry.kind === q.kind) &&
        (q?.status === undefined || entry.status === q.status);
      if (!matches) {
        if (had) set({ entries, total: page.total - 1 });
        return;
      }
      const limit = q?.limit;
      const last = page.entries.at(-1);
      const inside =
        had ||
        limit === undefined ||
        page.entries.length < limit ||
        (last !== undefined && byId(entry, last) < 0 && (q?.offset ?? 0) === 0);
      if (inside) {
        entries.push(entry);
        entries.sort(byId);
        if (limit !== undefined && entries.length > limit) entries.length = limit;
      }
      set({ entries: inside ? entries : page.entries, total: page.total + (had ? 0 : 1) });
    },
  };
}
