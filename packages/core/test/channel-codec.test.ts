// Channel-mode frames byte for byte, and their caching: an event with its
// channel, the channel snapshot, reset and forbidden. The strings are the
// protocol: a client in the field parses exactly these.
import { describe, expect, it } from 'vitest';
import { BoardcastError } from '../src/index.js';
import {
  type ChannelEventFrame,
  ChannelSnapshotBody,
  channelForbiddenFrame,
  channelResetFrame,
  EncodedEvent,
} from '../src/wire.js';

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
    // Each frame still knows the event it carries.
    expect((e.tagged as ChannelEventFrame).event).toBe(e);
    expect((e.catchUp as ChannelEventFrame).event).toBe(e);
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
