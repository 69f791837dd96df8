/**
 * The directory: which channels exist, with what a fleet page lists for
 * each. It is state of the hub folded from `~directory` events in the bus's
 * order, so every instance lists the same channels, and it changes only
 * when a channel is described, changes status, firmware or capabilities, is
 * seen after a coarse interval, or is removed — never per event.
 */

/** One channel as the directory lists it. Every field but `id` is optional. */
export interface DirectoryEntry {
  readonly id: string;
  /** What the channel is (`esp32`, `linux-gpio`, `tasmota`, `simulated` …). */
  readonly kind?: string;
  /** A human name, when the channel has one. */
  readonly name?: string;
  /** `online`, `offline`, or any word the program uses. */
  readonly status?: string;
  /** When the channel was last heard from, in ms since the epoch, coarse (see `HubOptions.lastSeenIntervalMs`). */
  readonly lastSeen?: number;
  /** Firmware or software version. */
  readonly firmware?: string;
  /** What the channel can do (pins, sensors, relays …), as the program describes it. */
  readonly capabilities?: unknown;
}

/** The fields a program may set on an entry. */
export type DirectoryPatch = Partial<Omit<DirectoryEntry, 'id'>>;

/** A page of the directory: filters, then `offset`/`limit` over entries sorted by id. */
export interface DirectoryQuery {
  readonly kind?: string | undefined;
  readonly status?: string | undefined;
  /** Entries skipped (default 0). */
  readonly offset?: number | undefined;
  /** Entries returned (default and maximum 1000). */
  readonly limit?: number | undefined;
}

/** The answer to a {@link DirectoryQuery}: the page and how many entries matched in all. */
export interface DirectoryPage {
  readonly entries: readonly DirectoryEntry[];
  readonly total: number;
}

/** The data of a `~directory` event: the entry's changed fields, or its removal. */
export type DirectoryChange =
  | { readonly channel: string; readonly set: DirectoryPatch }
  | { readonly channel: string; readonly removed: true };

export const DIRECTORY_PAGE_LIMIT = 1000;

const FIELDS = ['kind', 'name', 'status', 'lastSeen', 'firmware', 'capabilities'] as const;

/** The fields of `patch` that differ from `entry` (deep-compared as JSON); `undefined` when none do. */
export function diffEntry(entry: DirectoryEntry | undefined, patch: DirectoryPatch): DirectoryPatch | undefined {
  const changed: Record<string, unknown> = {};
  let any = false;
  for (const field of FIELDS) {
    if (!Object.hasOwn(patch, field)) continue;
    const next = patch[field];
    if (entry !== undefined && JSON.stringify(entry[field]) === JSON.stringify(next)) continue;
    changed[field] = next;
    any = true;
  }
  if (entry === undefined && !any) return {};
  return any ? (changed as DirectoryPatch) : undefined;
}

/** Apply a `set` change to an entry. */
export function applyEntry(channel: string, entry: DirectoryEntry | undefined, patch: unknown): DirectoryEntry {
  const out: Record<string, unknown> = { ...(entry ?? {}), id: channel };
  if (patch !== null && typeof patch === 'object') {
    for (const field of FIELDS) {
      if (!Object.hasOwn(patch, field)) continue;
      const value = (patch as Record<string, unknown>)[field];
      if (value === undefined) delete out[field];
      else out[field] = value;
    }
  }
  return out as unknown as DirectoryEntry;
}

/** Whether `entry` passes the query's filters. */
export function matchesQuery(entry: DirectoryEntry, query: DirectoryQuery | undefined): boolean {
  if (query?.kind !== undefined && entry.kind !== query.kind) return false;
  if (query?.status !== undefined && entry.status !== query.status) return false;
  return true;
}

/** Filter, sort by id and page `entries`. */
export function pageOf(entries: Iterable<DirectoryEntry>, query: DirectoryQuery | undefined): DirectoryPage {
  const matching: DirectoryEntry[] = [];
  for (const entry of entries) if (matchesQuery(entry, query)) matching.push(entry);
  matching.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const offset = Math.max(0, Math.floor(query?.offset ?? 0));
  const limit = Math.min(DIRECTORY_PAGE_LIMIT, Math.max(0, Math.floor(query?.limit ?? DIRECTORY_PAGE_LIMIT)));
  return { entries: matching.slice(offset, offset + limit), total: matching.length };
}
