import { describe, expect, it } from 'vitest';
import { EncodedEvent, encodeSseComment, encodeSseFrame, encodeSseReset, encodeSseRetry } from '../src/wire.js';

describe('SSE codec', () => {
  it('splits multi-line data on CR, LF and CRLF', () => {
    expect(encodeSseFrame({ event: 'msg', data: 'a\nb\r\nc\rd' })).toBe(
      'event: msg\ndata: a\ndata: b\ndata: c\ndata: d\n\n',
    );
    expect(encodeSseFrame({ data: '' })).toBe('data: \n\n');
    expect(encodeSseFrame({ data: 'x\n' })).toBe('data: x\ndata: \n\n');
  });

  it('refuses line breaks in id and event, and NUL in id', () => {
    expect(() => encodeSseFrame({ id: 'a\nb', data: 'x' })).toThrow(TypeError);
    expect(() => encodeSseFrame({ event: 'a\rb', data: 'x' })).toThrow(TypeError);
    expect(() => encodeSseFrame({ id: 'a\0b', data: 'x' })).toThrow(TypeError);
  });

  it('encodes retry, comments, reset', () => {
    expect(encodeSseRetry(2500.7)).toBe('retry: 2500\n\n');
    expect(encodeSseComment('ping')).toBe(': ping\n\n');
    expect(encodeSseComment('')).toBe(':\n\n');
    expect(encodeSseReset('history')).toBe('event: reset\ndata: {"reason":"history"}\n\n');
  });

  it('caches one frame per event', () => {
    const e = new EncodedEvent('e-1', 'time', '12:00', '"12:00"');
    expect(e.sse).toBe('id: e-1\nevent: time\ndata: "12:00"\n\n');
    expect(e.sse).toBe(e.sse);
    expect(e.ws).toBe('{"type":"event","event":"time","id":"e-1","data":"12:00"}');
  });
});
