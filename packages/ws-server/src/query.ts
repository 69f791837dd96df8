import { BoardcastError } from '@boardcast/core';

export interface ConnectQuery {
  readonly lastEventId: string | undefined;
  readonly events: ReadonlySet<string> | undefined;
}

const MAX_ID_LENGTH = 128;

/**
 * `?lastEventId=<id>` resumes after that event; `?events=a,b` (or repeated
 * `events=`) keeps only those events. Unknown event names are refused so a
 * typo does not silently become a socket that never receives anything.
 */
export function parseConnectQuery(params: URLSearchParams, knownEvents: object): ConnectQuery {
  const rawId = params.get('lastEventId');
  if (rawId !== null && rawId.length > MAX_ID_LENGTH) {
    throw new BoardcastError('invalid_payload', `lastEventId is longer than ${MAX_ID_LENGTH} characters`);
  }
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
  return {
    lastEventId: rawId === null || rawId === '' ? undefined : rawId,
    events: names.length > 0 ? new Set(names) : undefined,
  };
}
