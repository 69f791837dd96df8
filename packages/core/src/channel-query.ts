/**
 * How a client names its channels when it opens a stream: the query of an
 * SSE `GET` or a WebSocket upgrade (`?channels=a,b,kitchen-*&fresh=b`) and
 * the JSON body of an SSE `POST` (`{"channels":[id | {channel, since}]}`),
 * one grammar for sse-server and ws-server. The result is what
 * `hub.connect({ channels })` takes: a string starts fresh (its snapshot), a
 * `{ channel, since }` resumes after `since` (or gets its own reset).
 */

import { DIRECTORY, isChannelId } from './channel.js';
import type { ChannelRequest } from './connection.js';
import type { DirectoryQuery } from './directory.js';
import { BoardcastError } from './errors.js';

/** Most channels one request (query or body) may name; the hub's `maxChannelsPerConnection` applies too. */
export const MAX_CHANNELS_PER_REQUEST = 1000;
/** Longest resume id read; a longer one stands for an id of no bus (the channel gets its reset). */
const MAX_RESUME_ID_LENGTH = 256;
const FOREIGN_ID = 'foreign';
/** Longest `kind`/`status` filter of a directory page. */
const MAX_FILTER_LENGTH = 128;

/** The channels a stream opens with, and the directory page when they include `~directory`. */
export interface ChannelSelection {
  readonly channels: readonly (string | ChannelRequest)[];
  readonly directory: DirectoryQuery | undefined;
}

/** A channel id, a `prefix*` pattern or `~directory`: what a client may name in its set. */
export function isChannelName(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (value === DIRECTORY) return true;
  if (value.length > 1 && value.endsWith('*')) return isChannelId(`${value.slice(0, -1)}x`);
  return isChannelId(value);
}

function invalid(message: string): BoardcastError {
  return new BoardcastError('invalid_payload', message);
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
}

function names(params: URLSearchParams, key: string): string[] {
  const out: string[] = [];
  for (const value of params.getAll(key)) {
    for (const part of value.split(',')) {
      const name = part.trim();
      if (name === '') continue;
      if (!isChannelName(name)) {
        throw invalid(`invalid channel ${shown(name)} in ?${key}=: a channel id, a prefix ending in *, or ~directory`);
      }
      out.push(name);
      if (out.length > MAX_CHANNELS_PER_REQUEST) {
        throw invalid(`?${key}= names more than ${MAX_CHANNELS_PER_REQUEST} channels`);
      }
    }
  }
  return out;
}

function resumeId(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  return value.length > MAX_RESUME_ID_LENGTH ? FOREIGN_ID : value;
}

function count(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw invalid(`directory "${name}" must be an integer >= 0`);
  }
  return n;
}

function filter(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  // An empty filter is a client's slip (`?kind=` with no value), not a
  // question: refused, rather than answered with a page that is all but
  // surely empty and says nothing of why.
  if (typeof value !== 'string' || value === '' || value.length > MAX_FILTER_LENGTH) {
    throw invalid(`directory "${name}" must be a non-empty string of at most ${MAX_FILTER_LENGTH} characters`);
  }
  return value;
}

/**
 * A directory page from `offset`/`limit`/`kind`/`status` (query strings or
 * JSON values); `undefined` when none is set. `offset`/`limit` are integers
 * ≥ 0 (digits in a query); `kind`/`status` are non-empty strings of at most
 * 128 characters. `status` is open-ended (`online`, `offline` or any word the
 * program uses, see `DirectoryEntry.status`), so any such word is accepted.
 * Throws `invalid_payload` otherwise — sse-server's `GET`/`POST` and
 * ws-server's upgrade query and `subscribe` frame all read it here.
 */
export function parseDirectoryQuery(source: {
  readonly offset?: unknown;
  readonly limit?: unknown;
  readonly kind?: unknown;
  readonly status?: unknown;
}): DirectoryQuery | undefined {
  const query = {
    offset: count(source.offset, 'offset'),
    limit: count(source.limit, 'limit'),
    kind: filter(source.kind, 'kind'),
    status: filter(source.status, 'status'),
  };
  return Object.values(query).some((v) => v !== undefined) ? query : undefined;
}

/** `offset`/`limit`/`kind`/`status` of a URL query as a directory page. */
export function directoryQueryOf(params: URLSearchParams): DirectoryQuery | undefined {
  return parseDirectoryQuery({
    offset: params.get('offset') ?? undefined,
    limit: params.get('limit') ?? undefined,
    kind: params.get('kind') ?? undefined,
    status: params.get('status') ?? undefined,
  });
}

/**
 * The channels of a URL query, or `undefined` when it has no `channels`
 * parameter (the 0.1 single stream). `?channels=` (empty) is a channel
 * stream with an empty set.
 *
 * - `channels=a,b,kitchen-*,~directory`: ids (repeated parameters add up);
 * - every channel resumes after `lastEventId` (the `Last-Event-ID` header or
 *   `?lastEventId=`, the caller's choice), except those in `fresh=c,d`,
 *   which start from their snapshot — and all of them start fresh without
 *   a `lastEventId`;
 * - `offset`/`limit`/`kind`/`status` page `~directory`.
 *
 * Throws `invalid_payload` for a malformed name or more than
 * {@link MAX_CHANNELS_PER_REQUEST} of them.
 */
export function parseChannelQuery(
  params: URLSearchParams,
  lastEventId: string | undefined,
): ChannelSelection | undefined {
  if (!params.has('channels')) return undefined;
  const wanted = names(params, 'channels');
  const fresh = new Set(names(params, 'fresh'));
  const since = resumeId(lastEventId);
  return {
    channels: wanted.map((channel) => (since === undefined || fresh.has(channel) ? channel : { channel, since })),
    directory: directoryQueryOf(params),
  };
}

/**
 * The channels of a JSON body `{"channels": [id | {"channel", "since"?}],
 * "lastEventId"?: string, "directory"?: {offset, limit, kind, status}}`.
 * A string resumes after `lastEventId` (the caller passes the
 * `Last-Event-ID` header, which wins over the body's) or starts fresh
 * without one; `{"channel"}` starts fresh; `{"channel","since"}` resumes
 * that channel after `since`. Throws `invalid_payload` naming what is wrong.
 */
export function parseChannelBody(body: unknown, lastEventIdHeader: string | undefined): ChannelSelection {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid('the body must be a JSON object {"channels": [...]}');
  }
  const record = body as Record<string, unknown>;
  const list = record.channels;
  if (!Array.isArray(list)) throw invalid('"channels" must be an array of channel ids or {channel, since}');
  if (list.length > MAX_CHANNELS_PER_REQUEST) {
    throw invalid(`"channels" names more than ${MAX_CHANNELS_PER_REQUEST} channels`);
  }
  const bodyId = record.lastEventId;
  if (bodyId !== undefined && bodyId !== null && typeof bodyId !== 'string') {
    throw invalid('"lastEventId" must be a string');
  }
  const last = resumeId(lastEventIdHeader) ?? resumeId(typeof bodyId === 'string' ? bodyId : undefined);
  const channels: (string | ChannelRequest)[] = [];
  for (const item of list) {
    if (typeof item === 'string') {
      if (!isChannelName(item)) throw invalid(`invalid channel ${shown(item)} in "channels"`);
      channels.push(last === undefined ? item : { channel: item, since: last });
      continue;
    }
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw invalid('"channels" must hold channel ids or {channel, since}');
    }
    const { channel, since } = item as { channel?: unknown; since?: unknown };
    if (!isChannelName(channel)) throw invalid(`invalid channel ${shown(channel)} in "channels"`);
    // The same rule as a WS subscribe (MAX_ID_LENGTH there): an id is a short string.
    if (since !== undefined && since !== null && (typeof since !== 'string' || since.length > 128)) {
      throw invalid(`"since" of ${shown(channel)} must be an event id`);
    }
    const from = resumeId(typeof since === 'string' ? since : undefined);
    channels.push(from === undefined ? channel : { channel, since: from });
  }
  const directory = record.directory;
  if (directory !== undefined && (directory === null || typeof directory !== 'object' || Array.isArray(directory))) {
    throw invalid('"directory" must be an object {offset, limit, kind, status}');
  }
  return { channels, directory: directory === undefined ? undefined : parseDirectoryQuery(directory) };
}
