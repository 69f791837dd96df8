// The state and status frames byte for byte, and their caching. The strings
// are the protocol: a client in the field parses exactly these.
import { describe, expect, it } from 'vitest';
import { STATE_EVENT, STATUS_EVENT, StateChange, StatusFrame } from '../src/wire.js';

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
