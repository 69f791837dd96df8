import { describe, expect, it } from 'vitest';
import { OPEN_ACCESS, RateLimiter } from '../src/access.js';
import { accessTable, matchesChannel, principalIdOf } from '../src/index.js';

describe('principalIdOf', () => {
  it('a string is itself; an object its id, user, sub or name (in that order, strings or numbers)', () => {
    expect(principalIdOf('alice')).toBe('alice');
    expect(principalIdOf({ id: 'i', user: 'u', sub: 's', name: 'n' })).toBe('i');
    expect(principalIdOf({ id: 7 })).toBe('7');
    expect(principalIdOf({ user: 'u', sub: 's', name: 'n' })).toBe('u');
    expect(principalIdOf({ sub: 's', name: 'n' })).toBe('s');
    expect(principalIdOf({ name: 'n' })).toBe('n');
    // A field of another type is skipped, not stringified.
    expect(principalIdOf({ id: true, user: { x: 1 }, sub: null, name: 'n' })).toBe('n');
  });

  it('undefined, null and true are anonymous; every other shape is `principal`', () => {
    for (const principal of [undefined, null, true]) expect(principalIdOf(principal)).toBe('anonymous');
    for (const principal of [false, 0, 5, {}, { other: 'x' }, Symbol('s')]) {
      expect(principalIdOf(principal)).toBe('principal');
    }
  });
});

describe('matchesChannel', () => {
  it('`*` is every channel, `prefix*` a prefix, anything else the exact id', () => {
    expect(matchesChannel('*', 'board-1')).toBe(true);
    expect(matchesChannel('kitchen-*', 'kitchen-1')).toBe(true);
    expect(matchesChannel('kitchen-*', 'kitchen-')).toBe(true);
    expect(matchesChannel('kitchen-*', 'hall-kitchen-')).toBe(false);
    expect(matchesChannel('kitchen-*', 'kit')).toBe(false);
    expect(matchesChannel('kitchen-*', 'k-1')).toBe(false);
    expect(matchesChannel('a*', 'ab')).toBe(true);
    expect(matchesChannel('board-1', 'board-1')).toBe(true);
    expect(matchesChannel('board-1', 'board-10')).toBe(false);
    expect(matchesChannel('', 'board-1')).toBe(false);
  });
});

describe('accessTable', () => {
  it('a row sees its `see` channels and commands those also in `control`, limited to `commands` when given', () => {
    const table = accessTable({
      alice: { see: ['*'], control: ['*'] },
      bob: { see: ['board-1', 'board-2'], control: ['board-1', 'board-3'], commands: ['led'] },
      carol: { control: ['board-1'] },
    });
    expect(table.canSee('alice', 'x')).toBe(true);
    expect(table.canCommand?.('alice', 'x', 'anything')).toBe(true);
    expect(table.canSee('bob', 'board-2')).toBe(true);
    expect(table.canSee('bob', 'board-3')).toBe(false);
    expect(table.canCommand?.('bob', 'board-1', 'led')).toBe(true);
    expect(table.canCommand?.('bob', 'board-1', 'reboot')).toBe(false);
    // Seen but not controlled; controlled but not seen.
    expect(table.canCommand?.('bob', 'board-2', 'led')).toBe(false);
    expect(table.canCommand?.('bob', 'board-3', 'led')).toBe(false);
    // A row without `see` sees nothing and so commands nothing.
    expect(table.canSee('carol', 'board-1')).toBe(false);
    expect(table.canCommand?.('carol', 'board-1', 'led')).toBe(false);
  });

  it('a principal without a row sees nothing unless there is a `*` row; principals go through principalIdOf', () => {
    const closed = accessTable({ alice: { see: ['*'] } });
    expect(closed.canSee('mallory', 'board-1')).toBe(false);
    expect(closed.canCommand?.('mallory', 'board-1', 'led')).toBe(false);
    expect(closed.canSee({ id: 'alice' }, 'board-1')).toBe(true);
    expect(closed.principalId?.({ user: 'alice' })).toBe('alice');
    const open = accessTable({ '*': { see: ['public-*'] } });
    expect(open.canSee('anyone', 'public-1')).toBe(true);
    expect(open.canSee('anyone', 'private-1')).toBe(false);
    const custom = accessTable<{ key: string }>({ k1: { see: ['*'] } }, { principalId: (p) => p.key });
    expect(custom.canSee({ key: 'k1' }, 'a')).toBe(true);
    expect(custom.principalId?.({ key: 'k1' })).toBe('k1');
  });

  it('set replaces a row at run time, undefined removes it; get reads it', () => {
    const table = accessTable({ bob: { see: ['board-1'] } });
    expect(table.get('bob')).toEqual({ see: ['board-1'] });
    expect(table.get('nobody')).toBeUndefined();
    table.set('bob', { see: ['board-2'] });
    expect(table.get('bob')).toEqual({ see: ['board-2'] });
    expect([table.canSee('bob', 'board-1'), table.canSee('bob', 'board-2')]).toEqual([false, true]);
    table.set('bob', undefined);
    expect(table.get('bob')).toBeUndefined();
    expect(table.canSee('bob', 'board-2')).toBe(false);
  });

  it('OPEN_ACCESS lets everyone see and command everything', () => {
    expect(OPEN_ACCESS.canSee(undefined, 'any')).toBe(true);
    expect(OPEN_ACCESS.canCommand?.(undefined, 'any', 'led')).toBe(true);
  });
});

describe('RateLimiter', () => {
  it('refuses a rate ≤ 0 or a burst < 1', () => {
    for (const [rate, burst] of [
      [0, 1],
      [-1, 1],
      [Number.NaN, 1],
      [1, 0.5],
      [1, Number.NaN],
    ] as const) {
      expect(() => new RateLimiter(rate, burst), `${rate}/${burst}`).toThrow(
        new RangeError('rate must be > 0 and burst ≥ 1'),
      );
    }
    expect(() => new RateLimiter(0.001, 1)).not.toThrow();
  });

  it('allows a burst, then `rate` per second, per key', () => {
    let now = 0;
    const limiter = new RateLimiter(2, 2, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([true, true, false]);
    expect(limiter.take('b')).toBe(true); // another key has its own bucket
    now = 499;
    expect(limiter.take('a')).toBe(false);
    now = 500; // 2 per second: one token back after 500 ms
    expect([limiter.take('a'), limiter.take('a')]).toEqual([true, false]);
    now = 60_000; // never more than the burst
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([true, true, false]);
  });

  it('drops buckets idle for more than a minute, checked at most once a minute', () => {
    // A slow rate makes a dropped bucket (a fresh, full one) tell from a refilled one.
    let now = 0;
    const limiter = new RateLimiter(0.01, 2, () => now);
    const drain = (key: string) => [limiter.take(key), limiter.take(key), limiter.take(key)];
    now = 1;
    expect(drain('a')).toEqual([true, true, false]);
    now = 30_000;
    expect(drain('b')).toEqual([true, true, false]);
    now = 61_002; // the first take past a minute sweeps: a, idle 61 s, is dropped and starts full
    expect(drain('a')).toEqual([true, true, false]);
    now = 92_000; // b idle 62 s, but the last sweep was 31 s ago: b is kept, with 0.62 token
    expect(limiter.take('b')).toBe(false);
  });

  it('"idle for more than a minute" and "once a minute" are strict: exactly 60 s is not more', () => {
    let now = 0;
    const limiter = new RateLimiter(0.001, 2, () => now); // 60 s refill 0.06 token, 120 s 0.12
    now = 1;
    expect([limiter.take('x'), limiter.take('x'), limiter.take('x')]).toEqual([true, true, false]);
    now = 60_001; // sweeps (60,001 ms since 0); x idle exactly 60 s: kept, still empty
    expect(limiter.take('x')).toBe(false);
    now = 1;
    const other = new RateLimiter(0.001, 2, () => now);
    expect([other.take('y'), other.take('y'), other.take('z')]).toEqual([true, true, true]);
    now = 60_001; // sweeps; y idle exactly 60 s, kept
    other.take('z');
    now = 120_001; // exactly a minute after that sweep: no sweep, so y (idle 120 s) is still there, empty
    expect(other.take('y')).toBe(false);
  });
});
