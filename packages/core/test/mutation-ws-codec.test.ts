// The WS envelopes byte for byte, and every branch of the client- and
// server-frame decoders (mutation testing, issue 28).
import { describe, expect, it } from 'vitest';
import { BoardcastError } from '../src/index.js';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeWsCommand,
  encodeWsError,
  encodeWsPing,
  encodeWsPong,
  encodeWsReset,
  encodeWsResultOk,
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
    for (const bad of ['-b', '*', 'b/1', 5, null]) {
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
    expect(refusal('[1]')).toMatchObject({ message: 'frame must be a JSON object' });
    expect(refusal('{"__proto__":1}')).toMatchObject({ message: 'key "__proto__" is not allowed' });
    const bytes = tryDecodeClientFrame(new Uint8Array([0x7b, 0xff, 0x7d]));
    expect(!bytes.ok && bytes.error.message).toBe('frame is not valid UTF-8');
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
