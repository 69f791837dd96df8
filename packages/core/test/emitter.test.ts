import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from '../src/index.js';

type Events = { error: (error: unknown, where: string) => void; data: (n: number) => void };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Emitter error route', () => {
  it('logs an error nobody listens to, once, with the prefix and where it came from', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const emitter = new Emitter<Events>();
    const failure = new Error('redis connection refused');
    emitter.emit('error', failure, 'bus.publish');
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0]?.[0]).toBe(
      '[boardcast] unhandled "error" event (bus.publish); add an error listener to handle it:',
    );
    expect(log.mock.calls[0]?.[1]).toBe(failure);
  });

  it('hands errors to listeners instead when there are any, and stays quiet for other unheard events', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const emitter = new Emitter<Events>();
    emitter.emit('data', 1);
    const seen: string[] = [];
    const off = emitter.on('error', (_error, where) => seen.push(where));
    emitter.emit('error', new Error('x'), 'authorize');
    expect(seen).toEqual(['authorize']);
    expect(log).not.toHaveBeenCalled();
    off();
    emitter.emit('error', new Error('y'), 'authorize');
    expect(log).toHaveBeenCalledTimes(1);
  });
});
