// The WS envelopes byte for byte, and every branch of the client- and
// server-frame decoders.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoardcastError } from '../src/index.js';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeWsCommand,
  encodeWsError,
  encodeWsEvent,
  encodeWsPing,
  encodeWsPong,
  encodeWsReset,
  encodeWsResultError,
  encodeWsResultOk,
  encodeWsSnapshot,
  encodeWsStatus,
  encodeWsSubscribe,
  encodeWsUnsubscribe,
  MAX_CHANNELS_PER_FRAME,
  tryDecodeClientFrame,
  utf8ByteLength,
  WS_PROTOCOL,
} from '../src/wire.js';

const decode = (value: unknown) => tryDecodeClientFrame(JSON.stringify(value));
const refusal = (value: unknown) => {
  const result = typeof value === 'string' ? tryDecodeClientFrame(value) : decode(value);
  if (result.ok) throw new Error(`expected a refusal of ${JSON.stringify(value)}`);
  return { code: result.error.code, message: result.error.message, id: result.id };
};

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
    expect(!bytes.ok && bytes.error.message).toBe('frame exceeds 256 bytes');
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

describe('WS encoders', () => {
  it('write every envelope as the protocol names it', () => {
    expect(WS_PROTOCOL).toBe('boardcast.v1');
    expect(encodeWsStatus('{"bus":"ok"}')).toBe('{"type":"status","data":{"bus":"ok"}}');
    expect(encodeWsReset('history')).toBe('{"type":"reset","reason":"history"}');
    expect(encodeWsError(new BoardcastError('queue_full', 'slow'))).toBe(
      '{"type":"error","error":{"code":"queue_full","message":"slow"}}',
    );
    expect(encodeWsResultOk('c"1', 'null')).toBe('{"type":"result","id":"c\\"1","ok":true,"data":null}');
    expect(encodeWsPong(undefined)).toBe('{"type":"pong"}');
    expect(encodeWsPong(0)).toBe('{"type":"pong","id":0}');
    expect(encodeWsPing()).toBe('{"type":"ping"}');
    expect(encodeWsPing('p')).toBe('{"type":"ping","id":"p"}');
  });

  it('write commands with their channel when they have one, and undefined data as null', () => {
    expect(encodeWsCommand(1, 'led', { on: true })).toBe(
      '{"type":"command","id":1,"command":"led","data":{"on":true}}',
    );
    expect(encodeWsCommand('a', 'led', undefined, 'b1')).toBe(
      '{"type":"command","id":"a","command":"led","channel":"b1","data":null}',
    );
  });

  it('write subscribe with its directory page only when asked, and unsubscribe', () => {
    expect(encodeWsSubscribe(1, [{ channel: 'b1' }, { channel: 'b2', since: 'e-3' }])).toBe(
      '{"type":"subscribe","id":1,"channels":[{"channel":"b1"},{"channel":"b2","since":"e-3"}]}',
    );
    expect(encodeWsSubscribe(2, [], { limit: 10 })).toBe(
      '{"type":"subscribe","id":2,"channels":[],"directory":{"limit":10}}',
    );
    expect(encodeWsUnsubscribe('u', ['b1', 'b*'])).toBe('{"type":"unsubscribe","id":"u","channels":["b1","b*"]}');
  });

  it('round-trip through the client decoder', () => {
    expect(decodeClientFrame(encodeWsCommand(1, 'led', undefined, 'b1'))).toEqual({
      type: 'command',
      id: 1,
      command: 'led',
      data: null,
      channel: 'b1',
    });
    expect(decodeClientFrame(encodeWsSubscribe(2, [{ channel: 'b2', since: 'e-3' }]))).toEqual({
      type: 'subscribe',
      id: 2,
      channels: [{ channel: 'b2', since: 'e-3' }],
      directory: undefined,
    });
    expect(decodeClientFrame(encodeWsPing())).toEqual({ type: 'ping', id: undefined });
  });

  it('count UTF-8 bytes', () => {
    expect(utf8ByteLength('aé温🌡')).toBe(1 + 2 + 3 + 4);
  });
});

describe('tryDecodeClientFrame: commands', () => {
  it('takes ids of 1 to 128 characters or safe integers, nothing else', () => {
    const command = (id: unknown) => decode({ type: 'command', id, command: 'led' });
    expect(command('x'.repeat(128)).ok).toBe(true);
    expect(command(0).ok).toBe(true);
    expect(command(-5).ok).toBe(true);
    for (const bad of ['', 'x'.repeat(129), 2 ** 53, 1.5, true, null, ['1']]) {
      expect(refusal({ type: 'command', id: bad, command: 'led' })).toEqual({
        code: 'invalid_payload',
        message: 'command needs an "id": a non-empty string (≤128 chars) or an integer',
        id: undefined,
      });
    }
  });

  it('takes a command name by the contract rule and keeps the id when refusing it', () => {
    for (const bad of ['1led', 'le d', 'led!', '!led', 5, `a${'b'.repeat(64)}`]) {
      expect(refusal({ type: 'command', id: 'c', command: bad })).toEqual({
        code: 'invalid_payload',
        message: 'command needs a "command" name',
        id: 'c',
      });
    }
    expect(decode({ type: 'command', id: 'c', command: `a${'b'.repeat(63)}` }).ok).toBe(true);
  });

  it('takes a channel id or pattern for a command, and says so when it is not one', () => {
    expect(decodeClientFrame(JSON.stringify({ type: 'command', id: 1, command: 'led', channel: 'b1' }))).toEqual({
      type: 'command',
      id: 1,
      command: 'led',
      data: undefined,
      channel: 'b1',
    });
    const noChannel = decodeClientFrame(JSON.stringify({ type: 'command', id: 1, command: 'led' }));
    expect(Object.hasOwn(noChannel, 'channel')).toBe(false);
    // 'b1!' and 'a!b*': a bad character is bad at the end of an id and in the middle of a pattern too.
    for (const bad of ['-b', '*', 'b/1', 'b1!', 'a!b*', `${'p'.repeat(128)}*`, 5, null]) {
      expect(refusal({ type: 'command', id: 1, command: 'led', channel: bad })).toEqual({
        code: 'invalid_payload',
        message: 'command "channel" must be a channel id',
        id: 1,
      });
    }
  });
});

describe('tryDecodeClientFrame: subscribe and unsubscribe', () => {
  it('needs an id', () => {
    expect(refusal({ type: 'subscribe', channels: [] })).toMatchObject({ message: 'subscribe needs an "id"' });
    expect(refusal({ type: 'unsubscribe', channels: [] })).toMatchObject({ message: 'unsubscribe needs an "id"' });
  });

  it('needs a list of at most MAX_CHANNELS_PER_FRAME channels', () => {
    expect(MAX_CHANNELS_PER_FRAME).toBe(1000);
    const many = Array.from({ length: MAX_CHANNELS_PER_FRAME }, (_, i) => `b${i}`);
    expect(decode({ type: 'unsubscribe', id: 1, channels: many }).ok).toBe(true);
    expect(decode({ type: 'subscribe', id: 1, channels: many }).ok).toBe(true);
    for (const type of ['subscribe', 'unsubscribe']) {
      for (const channels of [[...many, 'one-more'], 'b1', undefined, { 0: 'b1' }]) {
        expect(refusal({ type, id: 1, channels })).toEqual({
          code: 'invalid_payload',
          message: `${type} needs "channels": an array of at most 1000`,
          id: 1,
        });
      }
    }
  });

  it('unsubscribe takes ids, patterns and the directory only', () => {
    expect(
      decodeClientFrame(JSON.stringify({ type: 'unsubscribe', id: 1, channels: ['b1', 'b*', '~directory'] })),
    ).toEqual({
      type: 'unsubscribe',
      id: 1,
      channels: ['b1', 'b*', '~directory'],
    });
    for (const bad of [['b1', '*'], [{ channel: 'b1' }], ['~other']]) {
      expect(refusal({ type: 'unsubscribe', id: 1, channels: bad })).toEqual({
        code: 'invalid_payload',
        message: '"channels" must be channel ids',
        id: 1,
      });
    }
  });

  it('subscribe takes ids, patterns and {channel, since}; a null since is no since', () => {
    expect(
      decodeClientFrame(
        JSON.stringify({
          type: 'subscribe',
          id: 1,
          channels: [
            'b1',
            'kitchen.*',
            { channel: 'b2', since: 'e-4' },
            { channel: 'b3', since: null },
            { channel: 'b4' },
          ],
        }),
      ),
    ).toEqual({
      type: 'subscribe',
      id: 1,
      channels: [
        { channel: 'b1' },
        { channel: 'kitchen.*' },
        { channel: 'b2', since: 'e-4' },
        { channel: 'b3' },
        { channel: 'b4' },
      ],
      directory: undefined,
    });
  });

  it('subscribe refuses a since that is no event id and an item that is no channel', () => {
    for (const since of [5, 'x'.repeat(129), {}, true]) {
      expect(refusal({ type: 'subscribe', id: 1, channels: [{ channel: 'b1', since }] })).toEqual({
        code: 'invalid_payload',
        message: '"since" must be an event id',
        id: 1,
      });
    }
    expect(decode({ type: 'subscribe', id: 1, channels: [{ channel: 'b1', since: 'x'.repeat(128) }] }).ok).toBe(true);
    for (const item of ['*', null, 5, { channel: '-b' }, { since: 'e-1' }, ['b1']]) {
      expect(refusal({ type: 'subscribe', id: 1, channels: [item] })).toEqual({
        code: 'invalid_payload',
        message: '"channels" must be channel ids or {channel, since}',
        id: 1,
      });
    }
  });

  it('subscribe refuses a directory page that is not an object', () => {
    for (const directory of [null, [], 'all', 5]) {
      expect(refusal({ type: 'subscribe', id: 1, channels: [], directory })).toEqual({
        code: 'invalid_payload',
        message: '"directory" must be an object',
        id: 1,
      });
    }
  });
});

describe('tryDecodeClientFrame: ping, type and size', () => {
  it('takes a ping with or without a valid id, not with a malformed one', () => {
    expect(decode({ type: 'ping' })).toEqual({ ok: true, envelope: { type: 'ping', id: undefined } });
    expect(refusal({ type: 'ping', id: '' })).toEqual({
      code: 'invalid_payload',
      message: 'ping "id" is malformed',
      id: undefined,
    });
  });

  it('names an unknown type (cut to 32 characters) with the id, or says a type is missing', () => {
    expect(refusal({ type: `x${'y'.repeat(40)}`, id: 3 })).toEqual({
      code: 'invalid_payload',
      message: `unknown frame type "x${'y'.repeat(31)}"`,
      id: 3,
    });
    expect(refusal({ id: 3 })).toEqual({ code: 'invalid_payload', message: 'frame needs a "type"', id: 3 });
    expect(refusal({ type: 7 })).toMatchObject({ message: 'frame needs a "type"' });
  });

  it('says why a frame is not a frame', () => {
    expect(refusal('{')).toMatchObject({ message: 'frame is not valid JSON' });
    for (const notObject of ['[1]', 'null', '5', '"x"', 'true']) {
      expect(refusal(notObject), notObject).toEqual({
        code: 'invalid_payload',
        message: 'frame must be a JSON object',
        id: undefined,
      });
    }
    expect(refusal('{"__proto__":1}')).toMatchObject({ message: 'key "__proto__" is not allowed' });
    const bytes = tryDecodeClientFrame(new Uint8Array([0x7b, 0xff, 0x7d]));
    expect(!bytes.ok && bytes.error.message).toBe('frame is not valid UTF-8');
  });

  it('never throws, even for a frame that is neither text nor bytes (a caller without types)', () => {
    for (const raw of [null, undefined, 42, { type: 'ping' }]) {
      expect(tryDecodeClientFrame(raw as never)).toEqual({
        ok: false,
        error: new BoardcastError('invalid_payload', 'frame must be text or bytes'),
      });
    }
  });

  it('decodes UTF-8 bytes', () => {
    const bytes = new TextEncoder().encode('{"type":"ping","id":"é"}');
    expect(tryDecodeClientFrame(bytes)).toEqual({ ok: true, envelope: { type: 'ping', id: 'é' } });
  });

  it('measures a string frame in UTF-8 bytes at the limit, exactly', () => {
    const frame = (n: number) => `{"type":"ping","id":"${'é'.repeat(n)}"}`;
    const base = utf8ByteLength(frame(0));
    expect(tryDecodeClientFrame(frame(10), { maxBytes: base + 20 }).ok).toBe(true);
    const over = tryDecodeClientFrame(frame(10), { maxBytes: base + 19 });
    expect(!over.ok && over.error.message).toBe(`frame exceeds ${base + 19} bytes`);
    expect(tryDecodeClientFrame(new Uint8Array(new TextEncoder().encode(frame(1))), { maxBytes: base + 2 }).ok).toBe(
      true,
    );
    const bytes = tryDecodeClientFrame(new TextEncoder().encode(frame(1)), { maxBytes: base + 1 });
    expect(!bytes.ok && bytes.error.code).toBe('payload_too_large');
    const ascii = `{"type":"ping","id":"${'a'.repeat(100)}"}`;
    expect(tryDecodeClientFrame(ascii, { maxBytes: ascii.length }).ok).toBe(true);
    expect(tryDecodeClientFrame(ascii, { maxBytes: ascii.length - 1 }).ok).toBe(false);
  });

  it('decodeClientFrame throws the refusal itself', () => {
    let error: unknown;
    try {
      decodeClientFrame('{"type":"command","id":"c","command":"!"}');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BoardcastError);
    expect((error as BoardcastError).message).toBe('command needs a "command" name');
  });
});

describe('decodeServerFrame', () => {
  it('reads channel-mode frames with their channel', () => {
    expect(decodeServerFrame('{"type":"snapshot","id":"e-1","channel":"b1","data":{"n":1}}')).toEqual({
      type: 'snapshot',
      id: 'e-1',
      data: { n: 1 },
      channel: 'b1',
    });
    expect(decodeServerFrame('{"type":"snapshot","id":5,"data":0}')).toEqual({ type: 'snapshot', id: null, data: 0 });
    expect(decodeServerFrame('{"type":"event","channel":"b1","event":"tick","data":2}')).toEqual({
      type: 'event',
      event: 'tick',
      id: null,
      data: 2,
      channel: 'b1',
    });
    expect(decodeServerFrame('{"type":"event","channel":"b1","event":"tick","id":"e-2","data":2}')).toMatchObject({
      id: 'e-2',
    });
    expect(decodeServerFrame('{"type":"reset","channel":"b1","reason":"removed"}')).toEqual({
      type: 'reset',
      reason: 'removed',
      channel: 'b1',
    });
    expect(
      decodeServerFrame('{"type":"forbidden","channel":"b2","error":{"code":"forbidden","message":"no"}}'),
    ).toEqual({ type: 'forbidden', channel: 'b2', error: { code: 'forbidden', message: 'no' } });
  });

  it('reads single-stream frames without a channel key', () => {
    const event = decodeServerFrame('{"type":"event","event":"tick","id":"e-2","data":2}');
    expect(event).toEqual({ type: 'event', event: 'tick', id: 'e-2', data: 2 });
    expect(Object.hasOwn(event, 'channel')).toBe(false);
    expect(Object.hasOwn(decodeServerFrame('{"type":"snapshot","data":1}'), 'channel')).toBe(false);
    const reset = decodeServerFrame('{"type":"reset"}');
    expect(reset).toEqual({ type: 'reset', reason: 'history' });
    expect(Object.hasOwn(reset, 'channel')).toBe(false);
  });

  it('reads pong, error, status and a failed result with an unknown code', () => {
    expect(decodeServerFrame('{"type":"pong","id":4}')).toEqual({ type: 'pong', id: 4 });
    expect(decodeServerFrame('{"type":"pong","id":""}')).toEqual({ type: 'pong', id: undefined });
    expect(decodeServerFrame('{"type":"error","error":{"code":"queue_full","message":"slow"}}')).toEqual({
      type: 'error',
      error: { code: 'queue_full', message: 'slow' },
    });
    expect(decodeServerFrame('{"type":"status","data":{"bus":"degraded"}}')).toEqual({
      type: 'status',
      data: { bus: 'degraded' },
    });
    expect(decodeServerFrame('{"type":"result","id":1,"ok":false,"error":{"code":"new_code","message":"m"}}')).toEqual({
      type: 'result',
      id: 1,
      ok: false,
      error: { code: 'handler_failed', message: 'm' },
    });
    expect(decodeServerFrame('{"type":"result","id":1,"ok":"yes","data":1}')).toMatchObject({ ok: false });
  });

  it.each([
    ['a snapshot without data', '{"type":"snapshot","id":"e-1"}'],
    ['an event without a name', '{"type":"event","id":"e-1","data":1}'],
    ['a single-stream event without an id', '{"type":"event","event":"tick","data":1}'],
    ['forbidden without a channel', '{"type":"forbidden","error":{}}'],
    ['a result without an id', '{"type":"result","ok":true,"data":1}'],
    ['a status that is none', '{"type":"status","data":{"bus":"down"}}'],
    ['an unknown type', '{"type":"gossip"}'],
  ])('refuses %s as an unknown or malformed type', (_what, frame) => {
    expect(() => decodeServerFrame(frame)).toThrow(
      new BoardcastError('invalid_payload', 'server frame has an unknown or malformed type'),
    );
  });

  it('refuses what is not a JSON object, saying which', () => {
    expect(() => decodeServerFrame('nope')).toThrow('server frame is not valid JSON');
    for (const frame of ['null', '5', '"event"']) {
      expect(() => decodeServerFrame(frame)).toThrow('server frame must be a JSON object');
    }
  });
});

describe('single-stream snapshot', () => {
  it('writes the WS snapshot with a null id before any event', () => {
    expect(encodeWsSnapshot('[1]', undefined)).toBe('{"type":"snapshot","id":null,"data":[1]}');
    expect(encodeWsSnapshot('[1]', 'e-2')).toBe('{"type":"snapshot","id":"e-2","data":[1]}');
  });
});
