import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoardcastError } from '../src/index.js';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeWsEvent,
  encodeWsResultError,
  encodeWsResultOk,
  encodeWsSnapshot,
  tryDecodeClientFrame,
} from '../src/wire.js';

describe('decodeClientFrame', () => {
  it('accepts a well-formed command and ping', () => {
    expect(decodeClientFrame('{"type":"command","id":"1","command":"led","data":{"state":"on"}}')).toEqual({
      type: 'command',
      id: '1',
      command: 'led',
      data: { state: 'on' },
    });
    expect(decodeClientFrame('{"type":"ping","id":7}')).toEqual({ type: 'ping', id: 7 });
  });

  it.each([
    ['not json', '{', 'invalid_payload'],
    ['array', '[1,2]', 'invalid_payload'],
    ['string', '"command"', 'invalid_payload'],
    ['null', 'null', 'invalid_payload'],
    ['unknown type', '{"type":"hack","id":"1"}', 'invalid_payload'],
    ['missing id', '{"type":"command","command":"led"}', 'invalid_payload'],
    ['float id', '{"type":"command","id":1.5,"command":"led"}', 'invalid_payload'],
    ['missing command', '{"type":"command","id":"1"}', 'invalid_payload'],
    ['__proto__ key', '{"type":"command","id":"1","command":"led","data":{"__proto__":{"x":1}}}', 'invalid_payload'],
    [
      'escaped __proto__',
      '{"type":"command","id":"1","command":"led","data":{"__pro\\u0074o__":1}}',
      'invalid_payload',
    ],
    ['constructor key', '{"type":"command","id":"1","command":"led","data":{"constructor":{}}}', 'invalid_payload'],
    ['prototype key', '{"prototype":1,"type":"ping"}', 'invalid_payload'],
  ])('rejects %s', (_name, frame, code) => {
    expect(() => decodeClientFrame(frame)).toThrow(BoardcastError);
    const result = tryDecodeClientFrame(frame);
    expect(!result.ok && result.error.code).toBe(code);
  });

  it('keeps the command id when the rest is wrong, so the command can be answered', () => {
    const result = tryDecodeClientFrame('{"type":"command","id":"abc","command":""}');
    expect(result).toMatchObject({ ok: false, id: 'abc' });
  });

  it("reads a subscribe's directory page by the query's rules: a bad page is refused with the frame's id", () => {
    const subscribe = (directory: unknown) =>
      tryDecodeClientFrame(JSON.stringify({ type: 'subscribe', id: 's', channels: ['~directory'], directory }));
    expect(subscribe({ offset: 2, limit: 5, kind: 'esp32', status: 'any-word' })).toEqual({
      ok: true,
      envelope: {
        type: 'subscribe',
        id: 's',
        channels: [{ channel: '~directory' }],
        directory: { offset: 2, limit: 5, kind: 'esp32', status: 'any-word' },
      },
    });
    expect(subscribe({})).toMatchObject({ ok: true, envelope: { directory: {} } });
    expect(subscribe(undefined)).toMatchObject({ ok: true, envelope: { directory: undefined } });
    for (const bad of [{ offset: -1 }, { limit: 1.5 }, { offset: 'x' }, { kind: '' }, { status: '' }, { kind: 5 }]) {
      const result = subscribe(bad);
      expect(result, JSON.stringify(bad)).toMatchObject({ ok: false, id: 's', error: { code: 'invalid_payload' } });
    }
  });

  it('enforces the byte limit in UTF-8 bytes, for strings and bytes', () => {
    const frame = JSON.stringify({ type: 'command', id: '1', command: 'led', data: 'é'.repeat(100) });
    expect(tryDecodeClientFrame(frame, { maxBytes: 256 }).ok).toBe(true);
    const big = JSON.stringify({ type: 'command', id: '1', command: 'led', data: 'é'.repeat(200) });
    expect(big.length).toBeLessThan(300);
    const r = tryDecodeClientFrame(big, { maxBytes: 256 });
    expect(!r.ok && r.error.code).toBe('payload_too_large');
    const bytes = tryDecodeClientFrame(new Uint8Array(300), { maxBytes: 256 });
    expect(!bytes.ok && bytes.error.code).toBe('payload_too_large');
    const badUtf8 = tryDecodeClientFrame(new Uint8Array([0x7b, 0xff, 0x7d]));
    expect(!badUtf8.ok && badUtf8.error.code).toBe('invalid_payload');
  });

  it('survives absurd nesting', () => {
    const deep = `{"type":"command","id":"1","command":"x","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const r = tryDecodeClientFrame(deep, { maxBytes: 1_000_000 });
    expect(r.ok === true || r.error instanceof BoardcastError).toBe(true);
  });

  it('never throws anything but BoardcastError and never pollutes prototypes (fast-check, 12,000 inputs)', () => {
    const key = fc.oneof(
      fc.constantFrom('type', 'id', 'command', 'data', '__proto__', 'constructor', 'prototype'),
      fc.string({ maxLength: 8 }),
    );
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.double(),
        fc.integer(),
        fc.string(),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    const nearValid = fc.record(
      {
        type: fc.constantFrom('command', 'ping', 'result', 'Command', '', 42, null),
        id: fc.oneof(fc.string({ maxLength: 200 }), fc.integer(), fc.double(), fc.constant(null)),
        command: fc.oneof(fc.constantFrom('led', 'blink', '__proto__', '', 'a'.repeat(70)), fc.string()),
        data: json,
      },
      { requiredKeys: [] },
    );
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ maxLength: 300 }),
      json.map((v) => JSON.stringify(v) ?? ''),
      nearValid.map((v) => JSON.stringify(v)),
      nearValid.map((v) => JSON.stringify(v).replace('"data":', '"__proto__":')),
      nearValid.map((v) => JSON.stringify(v).slice(0, -1)),
    );
    fc.assert(
      fc.property(inputs, (input) => {
        try {
          const envelope = decodeClientFrame(input, { maxBytes: 256 });
          expect(['command', 'ping']).toContain(envelope.type);
        } catch (error) {
          expect(error).toBeInstanceOf(BoardcastError);
        }
        expect(({} as Record<string, unknown>).x).toBeUndefined();
        expect(Object.getPrototypeOf({})).toBe(Object.prototype);
        expect(Object.keys(Object.prototype)).toEqual([]);
      }),
      { numRuns: 12_000, seed: 2027 },
    );
    // 12,000 runs take ~4 s idle and 25 s under pnpm test:stress: a generous bound, not a timing check.
  }, 120_000);
});

describe('server envelopes', () => {
  it('round-trip through decodeServerFrame', () => {
    expect(decodeServerFrame(encodeWsEvent('e-1', 'led', '{"on":true}'))).toEqual({
      type: 'event',
      event: 'led',
      id: 'e-1',
      data: { on: true },
    });
    expect(decodeServerFrame(encodeWsSnapshot('{"a":1}', undefined))).toEqual({
      type: 'snapshot',
      id: null,
      data: { a: 1 },
    });
    expect(decodeServerFrame(encodeWsResultOk(3, '{"on":false}'))).toEqual({
      type: 'result',
      id: 3,
      ok: true,
      data: { on: false },
    });
    expect(decodeServerFrame(encodeWsResultError('x', new BoardcastError('timeout', 'late')))).toEqual({
      type: 'result',
      id: 'x',
      ok: false,
      error: { code: 'timeout', message: 'late' },
    });
    expect(() => decodeServerFrame('{"type":"event"}')).toThrow(BoardcastError);
    expect(() => decodeServerFrame('nope')).toThrow(BoardcastError);
  });
});
