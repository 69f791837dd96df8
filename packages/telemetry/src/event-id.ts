/**
 * Ordering of bus event ids, for the cursor. Ids are opaque to clients, but
 * both buses write `<prefix>-<sequence>`: Redis Streams `<ms>-<seq>` (both
 * numbers: ordered by ms then seq), the memory bus `<epoch>-<seq>` (ordered
 * by seq within one epoch; a new epoch is a restarted process, whose ids
 * follow every id of the old one). A cursor moves to an id only when the id
 * is newer, so two writers recording one bus never move it backwards.
 */
export interface IdKey {
  /** Non-numeric prefix (memory bus epoch), `''` for a numeric one. */
  readonly epoch: string;
  readonly major: number;
  readonly minor: number;
}

const DIGITS = /^\d{1,15}$/;

export function idKey(id: string): IdKey {
  const dash = id.lastIndexOf('-');
  const head = dash < 0 ? '' : id.slice(0, dash);
  const tail = dash < 0 ? id : id.slice(dash + 1);
  const minor = DIGITS.test(tail) ? Number(tail) : 0;
  if (DIGITS.test(head)) return { epoch: '', major: Number(head), minor };
  // An id of an unknown shape is its own epoch: it always replaces the cursor.
  return { epoch: DIGITS.test(tail) ? head : id, major: 0, minor };
}

/** True when `next` comes after `current` in bus order (or cannot be compared: a new epoch). */
export function isNewer(current: IdKey | undefined, next: IdKey): boolean {
  if (!current || current.epoch !== next.epoch) return true;
  return next.major > current.major || (next.major === current.major && next.minor > current.minor);
}
