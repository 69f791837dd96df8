import { describe, expect, it, vi } from 'vitest';
import {
  credentialExpiry,
  directoryQueryOf,
  MAX_CHANNELS_PER_REQUEST,
  onExpiry,
  parseChannelBody,
  parseChannelQuery,
} from '../src/wire.js';

const query = (text: string) => new URLSearchParams(text);
const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
};

describe('channel selection from a query', () => {
  it('no `channels` is the single stream; an empty one is an empty set', () => {
    expect(parseChannelQuery(query('events=led'), 'e-1')).toBeUndefined();
    expect(parseChannelQuery(query('channels='), 'e-1')).toEqual({ channels: [], directory: undefined });
  });

  it('every channel resumes after the id except those in `fresh`; without an id all start fresh', () => {
    expect(parseChannelQuery(query('channels=a,b&channels=k-*,~directory&fresh=b'), 'e-7')?.channels).toEqual([
      { channel: 'a', since: 'e-7' },
      'b',
      { channel: 'k-*', since: 'e-7' },
      { channel: '~directory', since: 'e-7' },
    ]);
    expect(parseChannelQuery(query('channels=a, b'), undefined)?.channels).toEqual(['a', 'b']);
    // An id nobody would look up stands for a foreign one (the channel gets its reset), never a refusal.
    expect(parseChannelQuery(query('channels=a'), 'x'.repeat(300))?.channels).toEqual([
      { channel: 'a', since: 'foreign' },
    ]);
  });

  it('refuses malformed names and more than the request bound, typed', () => {
    expect(code(() => parseChannelQuery(query('channels=a/b'), undefined))).toBe('invalid_payload');
    expect(code(() => parseChannelQuery(query('channels=*'), undefined))).toBe('invalid_payload');
    expect(code(() => parseChannelQuery(query('channels=a&fresh=~x'), undefined))).toBe('invalid_payload');
    expect(code(() => parseChannelQuery(query(`channels=${'a'.repeat(129)}`), undefined))).toBe('invalid_payload');
    const many = Array.from({ length: MAX_CHANNELS_PER_REQUEST + 1 }, (_, i) => `c${i}`).join(',');
    expect(code(() => parseChannelQuery(query(`channels=${many}`), undefined))).toBe('invalid_payload');
  });

  it('pages the directory from offset/limit/kind/status', () => {
    expect(directoryQueryOf(query('offset=10&limit=5&kind=esp32&status=online'))).toEqual({
      offset: 10,
      limit: 5,
      kind: 'esp32',
      status: 'online',
    });
    expect(directoryQueryOf(query('x=1'))).toBeUndefined();
    // status is open-ended (DirectoryEntry.status: "online", "offline" or any word the program uses).
    expect(directoryQueryOf(query('status=charging'))?.status).toBe('charging');
    for (const bad of [
      'offset=-1',
      'limit=1.5',
      'limit=1e3',
      `kind=${'k'.repeat(129)}`,
      'kind=',
      'status=',
      'kind=a&status=',
    ]) {
      expect(
        code(() => directoryQueryOf(query(bad))),
        bad,
      ).toBe('invalid_payload');
    }
  });
});

describe('channel selection from a body', () => {
  it('strings resume after the header id (else the body id), {channel} is fresh, {channel, since} resumes', () => {
    const body = { channels: ['a', { channel: 'b' }, { channel: 'c', since: 'e-2' }], lastEventId: 'e-5' };
    expect(parseChannelBody(body, undefined).channels).toEqual([
      { channel: 'a', since: 'e-5' },
      'b',
      { channel: 'c', since: 'e-2' },
    ]);
    expect(parseChannelBody(body, 'e-9').channels[0]).toEqual({ channel: 'a', since: 'e-9' });
    expect(parseChannelBody({ channels: ['a'] }, undefined).channels).toEqual(['a']);
    expect(parseChannelBody({ channels: ['~directory'], directory: { limit: 2 } }, undefined).directory).toEqual({
      offset: undefined,
      limit: 2,
      kind: undefined,
      status: undefined,
    });
  });

  it('refuses every other shape with invalid_payload', () => {
    for (const bad of [
      null,
      [],
      'channels',
      {},
      { channels: 'a' },
      { channels: [1] },
      { channels: [{ channel: 'a b' }] },
      { channels: [{ channel: 'a', since: 5 }] },
      { channels: [], lastEventId: 5 },
      { channels: [], directory: [] },
      { channels: [], directory: { kind: '' } },
      { channels: [], directory: { status: '' } },
      { channels: [], directory: { offset: -1 } },
      { channels: Array.from({ length: MAX_CHANNELS_PER_REQUEST + 1 }, () => 'a') },
    ]) {
      expect(
        code(() => parseChannelBody(bad, undefined)),
        JSON.stringify(bad)?.slice(0, 60),
      ).toBe('invalid_payload');
    }
  });
});

describe('credentials that expire', () => {
  it('reads a numeric expiresAt only', () => {
    expect(credentialExpiry({ id: 'a', expiresAt: 5 })).toBe(5);
    for (const auth of [undefined, null, 'a', true, { expiresAt: '5' }, { expiresAt: Number.NaN }]) {
      expect(credentialExpiry(auth)).toBeUndefined();
    }
  });

  it('fires once at expiresAt, chaining waits past setTimeout’s 24.8-day limit, and can be cancelled', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const days = (n: number) => n * 24 * 3600 * 1000;
      const fired: number[] = [];
      onExpiry(days(60), () => fired.push(Date.now()));
      const cancel = onExpiry(days(1), () => fired.push(-1));
      cancel();
      vi.advanceTimersByTime(days(30));
      expect(fired).toEqual([]);
      vi.advanceTimersByTime(days(30));
      expect(fired).toEqual([days(60)]);
      vi.advanceTimersByTime(days(60));
      expect(fired).toEqual([days(60)]);
      onExpiry(0, () => fired.push(0));
      expect(fired).toEqual([days(60), 0]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('since in a body (review: the same rule as WS)', () => {
  it('refuses a since longer than an event id can be', () => {
    expect(() => parseChannelBody({ channels: [{ channel: 'b1', since: 'x'.repeat(129) }] }, undefined)).toThrow(
      expect.objectContaining({ code: 'invalid_payload' }),
    );
  });
});

describe('channel selection: edges (mutation testing, issue 28)', () => {
  const message = (fn: () => unknown) => {
    try {
      fn();
      return 'ok';
    } catch (error) {
      return `${(error as { code?: string }).code}: ${(error as Error).message}`;
    }
  };

  it('a pattern is checked as a channel id in full; a name ending in a bad character is refused', () => {
    expect(parseChannelQuery(query('channels=kitchen-*'), undefined)?.channels).toEqual(['kitchen-*']);
    for (const bad of ['a/', 'a/b*', 'a b']) {
      expect(message(() => parseChannelQuery(query(`channels=${encodeURIComponent(bad)}`), undefined))).toBe(
        `invalid_payload: invalid channel ${JSON.stringify(bad)} in ?channels=: a channel id, a prefix ending in *, or ~directory`,
      );
    }
    // The name shown is cut at 40 characters; `?fresh=` is named as such.
    const long = `${'x'.repeat(50)}/`;
    expect(message(() => parseChannelQuery(query(`channels=a&fresh=${long}`), undefined))).toContain(
      `invalid channel ${JSON.stringify('x'.repeat(40))} in ?fresh=:`,
    );
  });

  it('exactly MAX_CHANNELS_PER_REQUEST names pass, one more is refused by name of the parameter', () => {
    const names = Array.from({ length: MAX_CHANNELS_PER_REQUEST }, (_, i) => `c${i}`);
    expect(parseChannelQuery(query(`channels=${names.join(',')}`), undefined)?.channels).toHaveLength(
      MAX_CHANNELS_PER_REQUEST,
    );
    expect(parseChannelBody({ channels: names }, undefined).channels).toHaveLength(MAX_CHANNELS_PER_REQUEST);
    expect(message(() => parseChannelQuery(query(`channels=${names.join(',')},one-more`), undefined))).toBe(
      `invalid_payload: ?channels= names more than ${MAX_CHANNELS_PER_REQUEST} channels`,
    );
    expect(message(() => parseChannelBody({ channels: [...names, 'one-more'] }, undefined))).toBe(
      `invalid_payload: "channels" names more than ${MAX_CHANNELS_PER_REQUEST} channels`,
    );
  });

  it('an empty resume id is none; one of 256 characters is kept, longer ones stand for a foreign id', () => {
    expect(parseChannelQuery(query('channels=a'), '')?.channels).toEqual(['a']);
    const id = 'e'.repeat(256);
    expect(parseChannelQuery(query('channels=a'), id)?.channels).toEqual([{ channel: 'a', since: id }]);
    expect(parseChannelBody({ channels: [{ channel: 'a', since: '' }] }, undefined).channels).toEqual(['a']);
  });

  it('directory values: empty or null is unset, 0 and 128-character filters pass, each refusal names its field', () => {
    expect(directoryQueryOf(query('offset=&limit='))).toBeUndefined();
    expect(directoryQueryOf(query('offset=0&limit=0'))).toEqual({
      offset: 0,
      limit: 0,
      kind: undefined,
      status: undefined,
    });
    const k = 'k'.repeat(128);
    expect(directoryQueryOf(query(`kind=${k}&status=${k}`))).toMatchObject({ kind: k, status: k });
    expect(
      parseChannelBody({ channels: [], directory: { offset: null, limit: null, kind: null, status: null } }, undefined)
        .directory,
    ).toBeUndefined();
    expect(parseChannelBody({ channels: [], directory: { offset: 3 } }, undefined).directory).toMatchObject({
      offset: 3,
    });
    for (const field of ['offset', 'limit']) {
      for (const bad of [1.5, -1, true, [5], '1e3', 'x']) {
        expect(message(() => parseChannelBody({ channels: [], directory: { [field]: bad } }, undefined))).toBe(
          `invalid_payload: directory "${field}" must be an integer >= 0`,
        );
      }
    }
    for (const field of ['kind', 'status']) {
      for (const bad of ['', 5, 'k'.repeat(129)]) {
        expect(message(() => parseChannelBody({ channels: [], directory: { [field]: bad } }, undefined))).toBe(
          `invalid_payload: directory "${field}" must be a non-empty string of at most 128 characters`,
        );
      }
    }
  });

  it('a body: null lastEventId and since are none, a since of 128 characters passes, every refusal says what is wrong', () => {
    expect(parseChannelBody({ channels: ['a'], lastEventId: null }, undefined).channels).toEqual(['a']);
    expect(parseChannelBody({ channels: [{ channel: 'a', since: null }] }, undefined).channels).toEqual(['a']);
    const since = 's'.repeat(128);
    expect(parseChannelBody({ channels: [{ channel: 'a', since }] }, undefined).channels).toEqual([
      { channel: 'a', since },
    ]);
    const cases: [unknown, string][] = [
      ['channels', 'the body must be a JSON object {"channels": [...]}'],
      [null, 'the body must be a JSON object {"channels": [...]}'],
      [{ channels: 'a' }, '"channels" must be an array of channel ids or {channel, since}'],
      [{ channels: [], lastEventId: 5 }, '"lastEventId" must be a string'],
      [{ channels: ['a/b'] }, 'invalid channel "a/b" in "channels"'],
      [{ channels: [null] }, '"channels" must hold channel ids or {channel, since}'],
      [{ channels: [1] }, '"channels" must hold channel ids or {channel, since}'],
      [{ channels: [['a']] }, '"channels" must hold channel ids or {channel, since}'],
      [{ channels: [{ channel: 'a b' }] }, 'invalid channel "a b" in "channels"'],
      [{ channels: [{ channel: 5 }] }, 'invalid channel number in "channels"'],
      [{ channels: [{}] }, 'invalid channel undefined in "channels"'],
      [{ channels: [{ channel: 'a', since: 's'.repeat(129) }] }, '"since" of "a" must be an event id'],
      [{ channels: [], directory: null }, '"directory" must be an object {offset, limit, kind, status}'],
      [{ channels: [], directory: 'x' }, '"directory" must be an object {offset, limit, kind, status}'],
      [{ channels: [], directory: [] }, '"directory" must be an object {offset, limit, kind, status}'],
    ];
    for (const [body, expected] of cases) {
      expect(
        message(() => parseChannelBody(body, undefined)),
        JSON.stringify(body),
      ).toBe(`invalid_payload: ${expected}`);
    }
  });
});
