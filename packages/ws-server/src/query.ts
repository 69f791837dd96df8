import { BoardcastError } from '@boardcast/core';
import { type ChannelSelection, parseChannelQuery } from '@boardcast/core/wire';

export interface ConnectQuery {
  readonly lastEventId: string | undefined;
  readonly events: ReadonlySet<string> | undefined;
  /** `?channels=`: a channel connection (its set changes with subscribe/unsubscribe); missing: the 0.1 stream. */
  readonly selection: ChannelSelection | undefined;
}

const MAX_ID_LENGTH = 256;
/** Stands in for a resume id we will not parse: foreign to every bus, so the hub answers reset + snapshot. */
const FOREIGN_ID = 'foreign';

/**
 * `?lastEventId=<id>` resumes after that event (an id the server cannot
 * use, however malformed or long, means reset + snapshot, never a refusal); `?events=a,b` (or repeated
 * `events=`) keeps only those events. Unknown event names are refused so a
 * typo does not silently become a socket that never receives anything.
 * `?channels=a,b,kitchen-*,~directory` makes a channel connection (an
 * empty `?channels=` one with an empty set): every channel resumes after
 * `lastEventId` except those in `?fresh=`, and `offset`/`limit`/`kind`/
 * `status` page `~directory` (core's `parseChannelQuery`; a malformed
 * name is `invalid_payload`).
 */
export function parseConnectQuery(params: URLSearchParams, knownEvents: object): ConnectQuery {
  let rawId = params.get('lastEventId');
  // Refusing an id would make the client repeat the same refused request:
  // an id we will not even look up is foreign (reset + snapshot) instead.
  if (rawId !== null && rawId.length > MAX_ID_LENGTH) rawId = FOREIGN_ID;
  const names = params
    .getAll('events')
    .flatMap((value) => value.split(','))
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!Object.hasOwn(knownEvents, name)) {
      throw new BoardcastError('invalid_payload', `unknown event "${name.slice(0, 64)}" in ?events=`);
    }
  }
  const lastEventId = rawId === null || rawId === '' ? undefined : rawId;
  return {
    lastEventId,
    events: names.length > 0 ? new Set(names) : undefined,
    selection: parseChannelQuery(params, lastEventId),
  };
}
