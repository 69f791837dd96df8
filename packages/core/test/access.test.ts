import { describe, expect, it } from 'vitest';
import { OPEN_ACCESS } from '../src/access.js';
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
