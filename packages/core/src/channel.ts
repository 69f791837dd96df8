import { BoardcastError } from './errors.js';

/**
 * The channel of every event, piece of state and command of a single-board
 * program that names none. A connection that names no channels receives
 * exactly this channel, in the single-stream frames of 0.1.
 */
export const DEFAULT_CHANNEL = 'default';

/**
 * Channel id grammar: 1–128 ASCII characters, a letter or digit first, then
 * letters, digits, `_`, `.`, `:` and `-`. Board ids of the board link are
 * valid channel ids as they are. The grammar keeps ids safe, unescaped, in
 * a URL query, an MQTT topic level (no `/`, `+`, `#`), a Redis key and an
 * SSE/JSON string; names starting with `~` are the hub's own (`~directory`).
 */
export const CHANNEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** The longest channel id, in bytes (= characters: the grammar is ASCII). */
export const MAX_CHANNEL_ID_LENGTH = 128;

/** Whether `value` is a valid channel id ({@link CHANNEL_ID}). */
export function isChannelId(value: unknown): value is string {
  return typeof value === 'string' && CHANNEL_ID.test(value);
}

/** `id` if it is a valid channel id; throws `invalid_payload` naming the problem otherwise. */
export function assertChannelId(value: unknown): string {
  if (isChannelId(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
  throw new BoardcastError(
    'invalid_payload',
    `invalid channel id ${shown}: 1–128 characters of A–Z a–z 0–9 _ . : -, starting with a letter or digit`,
  );
}

/**
 * The name of the directory in a subscription set: subscribing to it gives
 * the list of channels the viewer may see, kept live. `~` is outside the
 * channel grammar, so no channel can take the name.
 */
export const DIRECTORY = '~directory';
