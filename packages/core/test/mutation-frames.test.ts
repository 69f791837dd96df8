// The bytes of every SSE and WS frame core builds: single-stream frames,
// channel-mode frames, state and status frames, and their caching
// (mutation testing, issue 28). The strings are the protocol: a client in
// the field parses exactly these.
import { describe, expect, it } from 'vitest';
import { BoardcastError } from '../src/index.js';
import {
  ChannelSnapshotBody,
  channelForbiddenFrame,
  channelResetFrame,
  EncodedEvent,
  encodeSseComment,
  encodeSseFrame,
  encodeSseKeepAlive,
  encodeSseRetry,
  encodeSseSnapshot,
  encodeSseStatus,
  encodeWsSnapshot,
  SSE_KEEPALIVE_EVENT,
  SSE_STATUS_EVENT,
  STATE_EVENT,
  STATUS_EVENT,
  StateChange,
  StatusFrame,
} from '../src/wire.js';

describe('SSE single-stream frames', () => {
  it('writes retry, id, event and data in that order; retry floored and never negative', () => {
    expect(encodeSseFrame({ retry: 1500.9, id: 'e-1', event: 'led', data: '{}' })).toBe(
      'retry: 1500\nid: e-1\nevent: led\ndata: {}\n\n',
    );
    expect(encodeSseFrame({ retry: -20, data: 'x' })).toBe('retry: 0\ndata: x\n\n');
    expect(encodeSseRetry(-1)).toBe('retry: 0\n\n');
  });

  it('allows NUL in an event name (only an id may not hold it) and names the refused field', () => {
    expect(encodeSseFrame({ event: 'a\0b', data: 'x' })).toBe('event: a\0b\ndata: x\n\n');
    expect(() => encodeSseFrame({ id: 'a\nb', data: 'x' })).toThrow(
      new TypeError('SSE id must not contain line breaks'),
    );
    expect(() => encodeSseFrame({ event: 'a\rb', data: 'x' })).toThrow(
      new TypeError('SSE event must not contain line breaks'),
    );
    expect(() => encodeSseFrame({ id: 'a\0b', data: 'x' })).toThrow(new TypeError('SSE id must not contain NUL'));
  });

  it('writes one comment line per line of text', () => {
    expect(encodeSseComment('a\nb\r\nc')).toBe(': a\n: b\n: c\n\n');
    expect(encodeSseComment()).toBe(':\n\n');
    expect(encodeSseComment('a\n')).toBe(': a\n:\n\n');
  });

  it('writes the snapshot with its id, or without an id line before any event', () => {
    expect(encodeSseSnapshot('{"n":1}', 'e-4')).toBe('id: e-4\nevent: snapshot\ndata: {"n":1}\n\n');
    expect(encodeSseSnapshot('{"n":1}', undefined)).toBe('event: snapshot\ndata: {"n":1}\n\n');
  });

  it('writes the keep-alive with its floored, non-negative period and the status frame', () => {
    expect(SSE_KEEPALIVE_EVENT).toBe('keepalive');
    expect(encodeSseKeepAlive(15000.8)).toBe('event: keepalive\ndata: {"intervalMs":15000}\n\n');
    expect(encodeSseKeepAlive(-5)).toBe('event: keepalive\ndata: {"intervalMs":0}\n\n');
    expect(SSE_STATUS_EVENT).toBe('~status');
    expect(encodeSseStatus('{"bus":"degraded"}')).toBe('event: ~status\ndata: {"bus":"degraded"}\n\n');
  });

  it('writes the WS snapshot with a null id before any event', () => {
    expect(encodeWsSnapshot('[1]', undefined)).toBe('{"type":"snapshot","id":null,"data":[1]}');
    expect(encodeWsSnapshot('[1]', 'e-2')).toBe('{"type":"snapshot","id":"e-2","data":[1]}');
  });
});

describe('channel-mode frames', () => {
  const event = () => new EncodedEvent('e-7', 'temp', 21.5, '21.5', 'b"1');

  it('an event carries its channel, and its id unless it is a catch-up replay', () => {
    const e = event();
    expect(e.tagged.id).toBe('e-7');
    expect(e.tagged.sse).toBe('id: e-7\nevent: temp\ndata: {"channel":"b\\"1","data":21.5}\n\n');
    expect(e.tagged.ws).toBe('{"type":"event","channel":"b\\"1","event":"temp","id":"e-7","data":21.5}');
    expect(e.catchUp.id).toBe('');
    expect(e.catchUp.sse).toBe('event: temp\ndata: {"channel":"b\\"1","data":21.5}\n\n');
    expect(e.catchUp.ws).toBe('{"type":"event","channel":"b\\"1","event":"temp","data":21.5}');
  });

  it('builds each form once and shares it', () => {
    const e = event();
    expect(e.tagged).toBe(e.tagged);
    expect(e.catchUp).toBe(e.catchUp);
    expect(e.tagged).not.toBe(e.catchUp);
    expect(e.tagged.sse).toBe(e.tagged.sse);
    expect(e.tagged.ws).toBe(e.tagged.ws);
    expect(e.sse).toBe(e.sse);
    expect(e.ws).toBe(e.ws);
  });

  it('a snapshot body is written at each position, or without one', () => {
    const body = new ChannelSnapshotBody('b1', { n: 1 }, '{"n":1}');
    expect(body.state).toEqual({ n: 1 });
    const at = body.at('e-3');
    expect(at.id).toBe('e-3');
    expect(at.sse).toBe('id: e-3\nevent: snapshot\ndata: {"channel":"b1","state":{"n":1}}\n\n');
    expect(at.ws).toBe('{"type":"snapshot","id":"e-3","channel":"b1","data":{"n":1}}');
    const none = body.at('');
    expect(none.id).toBe('');
    expect(none.sse).toBe('event: snapshot\ndata: {"channel":"b1","state":{"n":1}}\n\n');
    expect(none.ws).toBe('{"type":"snapshot","id":null,"channel":"b1","data":{"n":1}}');
    expect(body.sseBody).toBe(body.sseBody);
    expect(body.wsTail).toBe('"channel":"b1","data":{"n":1}}');
  });

  it('reset and forbidden name their channel and move no position', () => {
    const reset = channelResetFrame('b1', 'removed');
    expect(reset.id).toBe('');
    expect(reset.sse).toBe('event: reset\ndata: {"channel":"b1","reason":"removed"}\n\n');
    expect(reset.ws).toBe('{"type":"reset","channel":"b1","reason":"removed"}');
    const forbidden = channelForbiddenFrame('b2', new BoardcastError('forbidden', 'not yours'));
    expect(forbidden.id).toBe('');
    expect(forbidden.sse).toBe(
      'event: forbidden\ndata: {"channel":"b2","error":{"code":"forbidden","message":"not yours"}}\n\n',
    );
    expect(forbidden.ws).toBe('{"type":"forbidden","channel":"b2","error":{"code":"forbidden","message":"not yours"}}');
  });
});

describe('state and status frames', () => {
  it('a setState event reaches single-stream clients as a snapshot with its id', () => {
    const change = new StateChange('e-9', { led: true }, '{"led":true}', '{"led":true,"n":2}', 'b1');
    expect(change.event).toBe(STATE_EVENT);
    expect(STATE_EVENT).toBe('~state');
    expect(change.channel).toBe('b1');
    expect(change.stateJson).toBe('{"led":true,"n":2}');
    expect(change.sse).toBe('id: e-9\nevent: snapshot\ndata: {"led":true,"n":2}\n\n');
    expect(change.ws).toBe('{"type":"snapshot","id":"e-9","data":{"led":true,"n":2}}');
    expect(change.sse).toBe(change.sse);
    expect(change.ws).toBe(change.ws);
  });

  it('a setState event reaches channel clients as that channel snapshot, with its id unless caught up', () => {
    const change = new StateChange('e-9', { led: true }, '{"led":true}', '{"n":2}', 'b1');
    expect(change.tagged.id).toBe('e-9');
    expect(change.tagged.sse).toBe('id: e-9\nevent: snapshot\ndata: {"channel":"b1","state":{"n":2}}\n\n');
    expect(change.tagged.ws).toBe('{"type":"snapshot","id":"e-9","channel":"b1","data":{"n":2}}');
    expect(change.catchUp.id).toBe('');
    expect(change.catchUp.ws).toBe('{"type":"snapshot","id":null,"channel":"b1","data":{"n":2}}');
    expect(new StateChange('e-1', 1, '1', '1').channel).toBe('default');
  });

  it('the status frame has no id and no channel, and is the same frame in both modes', () => {
    const frame = new StatusFrame({ bus: 'degraded' });
    expect(frame.id).toBe('');
    expect(frame.event).toBe(STATUS_EVENT);
    expect(STATUS_EVENT).toBe('~status');
    expect(frame.json).toBe('{"bus":"degraded"}');
    expect(frame.sse).toBe('event: ~status\ndata: {"bus":"degraded"}\n\n');
    expect(frame.ws).toBe('{"type":"status","data":{"bus":"degraded"}}');
    expect(frame.tagged).toBe(frame);
    expect(frame.catchUp).toBe(frame);
    expect(frame.sse).toBe(frame.sse);
    expect(frame.ws).toBe(frame.ws);
  });
});
