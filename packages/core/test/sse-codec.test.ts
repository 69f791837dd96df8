// The SSE frames byte for byte. The strings are the protocol: a client in
// the field parses exactly these.
import { describe, expect, it } from 'vitest';
import {
  EncodedEvent,
  encodeSseComment,
  encodeSseFrame,
  encodeSseKeepAlive,
  encodeSseReset,
  encodeSseRetry,
  encodeSseSnapshot,
  encodeSseStatus,
  SSE_KEEPALIVE_EVENT,
  SSE_STATUS_EVENT,
} from '../src/wire.js';

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
});
