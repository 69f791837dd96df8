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
