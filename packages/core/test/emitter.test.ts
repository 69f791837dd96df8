import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from '../src/index.js';

type Events = { error: (error: unknown, where: string) => void; data: (n: number) => void };
/** Events whose error carries any number of `where` parts, and one more event nobody else uses. */
type ManyEvents = {
  data: (n: number) => void;
  other: () => void;
  error: (error: unknown, ...where: unknown[]) => void;
};

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

describe('Emitter listeners', () => {
  it('calls every listener of an event, in the order they were added', () => {
    const emitter = new Emitter<ManyEvents>();
    const seen: string[] = [];
    emitter.on('data', (n) => seen.push(`a${n}`));
    emitter.on('data', (n) => seen.push(`b${n}`));
    emitter.emit('data', 1);
    expect(seen).toEqual(['a1', 'b1']);
    expect(emitter.listenerCount('data')).toBe(2);
  });

  it('removing one listener keeps the others of that event', () => {
    const emitter = new Emitter<ManyEvents>();
    const seen: string[] = [];
    const offA = emitter.on('data', (n) => seen.push(`a${n}`));
    emitter.on('data', (n) => seen.push(`b${n}`));
    offA();
    emitter.emit('data', 2);
    expect(seen).toEqual(['b2']);
    expect(emitter.listenerCount('data')).toBe(1);
  });

  it('off for an event nobody listens to, or twice, is a no-op', () => {
    const emitter = new Emitter<ManyEvents>();
    const listener = () => undefined;
    expect(() => emitter.off('other', listener)).not.toThrow();
    const off = emitter.on('other', listener);
    off();
    expect(() => off()).not.toThrow();
    expect(emitter.listenerCount()).toBe(0);
  });

  it('once calls its listener for the first emit only, and can be cancelled before', () => {
    const emitter = new Emitter<ManyEvents>();
    const seen: number[] = [];
    emitter.once('data', (n) => seen.push(n));
    emitter.emit('data', 1);
    emitter.emit('data', 2);
    expect(seen).toEqual([1]);
    expect(emitter.listenerCount('data')).toBe(0);
    const cancel = emitter.once('data', (n) => seen.push(n * 10));
    cancel();
    emitter.emit('data', 3);
    expect(seen).toEqual([1]);
  });

  it('counts listeners per event and in all', () => {
    const emitter = new Emitter<ManyEvents>();
    expect(emitter.listenerCount('data')).toBe(0);
    expect(emitter.listenerCount()).toBe(0);
    emitter.on('data', () => undefined);
    emitter.on('data', () => undefined);
    emitter.on('other', () => undefined);
    expect(emitter.listenerCount('data')).toBe(2);
    expect(emitter.listenerCount('other')).toBe(1);
    expect(emitter.listenerCount('error')).toBe(0);
    expect(emitter.listenerCount()).toBe(3);
  });

  it('removeAllListeners removes every listener of every event', () => {
    const emitter = new Emitter<ManyEvents>();
    const seen: number[] = [];
    emitter.on('data', (n) => seen.push(n));
    emitter.on('other', () => seen.push(0));
    emitter.removeAllListeners();
    emitter.emit('data', 1);
    emitter.emit('other');
    expect(seen).toEqual([]);
    expect(emitter.listenerCount()).toBe(0);
  });

  it('a throwing listener neither stops the others nor reaches the emitter; it is logged', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const emitter = new Emitter<ManyEvents>();
    const failure = new Error('ui bug');
    const seen: number[] = [];
    emitter.on('data', () => {
      throw failure;
    });
    emitter.on('data', (n) => seen.push(n));
    expect(() => emitter.emit('data', 7)).not.toThrow();
    expect(seen).toEqual([7]);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log).toHaveBeenCalledWith('[boardcast] a listener for "data" threw', failure);
  });
});

describe('Emitter unhandled error line', () => {
  it('has no parentheses when the error says nowhere', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const emitter = new Emitter<ManyEvents>();
    const failure = new Error('x');
    emitter.emit('error', failure);
    expect(log).toHaveBeenCalledWith(
      '[boardcast] unhandled "error" event; add an error listener to handle it:',
      failure,
    );
  });

  it('names only the string parts of where it came from', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const emitter = new Emitter<ManyEvents>();
    const failure = new Error('x');
    emitter.emit('error', failure, 'bus', 42, { id: 1 }, 'publish');
    expect(log).toHaveBeenCalledWith(
      '[boardcast] unhandled "error" event (bus publish); add an error listener to handle it:',
      failure,
    );
    log.mockClear();
    emitter.emit('error', failure, 42);
    expect(log).toHaveBeenCalledWith(
      '[boardcast] unhandled "error" event; add an error listener to handle it:',
      failure,
    );
  });
});
