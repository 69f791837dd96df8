// The directory's pure helpers: diffEntry of a new entry, applyEntry with a
// removed field or a patch that is not an object, and pageOf's filter, sort
// and page bounds.
import { describe, expect, it } from 'vitest';
import { applyEntry, DIRECTORY_PAGE_LIMIT, type DirectoryEntry, diffEntry, pageOf } from '../src/directory.js';

describe('diffEntry', () => {
  it('an empty patch of a channel not yet listed still lists it (an empty change)', () => {
    expect(diffEntry(undefined, {})).toStrictEqual({});
  });

  it('an empty or unchanged patch of a listed channel is no change', () => {
    const entry: DirectoryEntry = { id: 'b1', kind: 'esp32', capabilities: { pins: [1, 2] } };
    expect(diffEntry(entry, {})).toBeUndefined();
    expect(diffEntry(entry, { kind: 'esp32', capabilities: { pins: [1, 2] } })).toBeUndefined();
    expect(diffEntry(entry, { kind: 'esp32', name: 'hall' })).toStrictEqual({ name: 'hall' });
  });
});

describe('applyEntry', () => {
  it('deletes a field the patch sets to undefined, rather than keeping it as undefined', () => {
    const out = applyEntry('b1', { id: 'b1', kind: 'esp32', name: 'hall' }, { name: undefined, status: 'online' });
    expect(out).toStrictEqual({ id: 'b1', kind: 'esp32', status: 'online' });
    expect(Object.hasOwn(out, 'name')).toBe(false);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', 'online'],
    ['a number', 3],
  ])('ignores a patch that is %s (it came off the bus) and keeps the entry', (_what, patch) => {
    const entry: DirectoryEntry = { id: 'b1', kind: 'esp32' };
    expect(applyEntry('b1', entry, patch)).toStrictEqual({ id: 'b1', kind: 'esp32' });
    expect(applyEntry('b2', undefined, patch)).toStrictEqual({ id: 'b2' });
  });

  it('ignores fields that are not directory fields', () => {
    expect(applyEntry('b1', undefined, { id: 'other', kind: 'esp32', colour: 'red' })).toStrictEqual({
      id: 'b1',
      kind: 'esp32',
    });
  });
});

describe('pageOf', () => {
  const entries: DirectoryEntry[] = [
    { id: 'c', kind: 'esp32', status: 'online' },
    { id: 'a', kind: 'esp32', status: 'offline' },
    { id: 'e', kind: 'tasmota', status: 'online' },
    { id: 'b', kind: 'esp32', status: 'online' },
    { id: 'd', kind: 'linux-gpio', status: 'online' },
  ];
  const idsOf = (page: { entries: readonly DirectoryEntry[] }) => page.entries.map((e) => e.id);

  it('sorts by id whatever the input order', () => {
    expect(idsOf(pageOf(entries, undefined))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(idsOf(pageOf([...entries].reverse(), {}))).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('filters by status and by kind, and counts every match in total', () => {
    expect(pageOf(entries, { status: 'online' })).toMatchObject({ total: 4 });
    expect(idsOf(pageOf(entries, { status: 'online' }))).toEqual(['b', 'c', 'd', 'e']);
    expect(idsOf(pageOf(entries, { status: 'online', kind: 'esp32' }))).toEqual(['b', 'c']);
    expect(idsOf(pageOf(entries, { status: 'asleep' }))).toEqual([]);
  });

  it('pages with offset and limit over the sorted matches', () => {
    const page = pageOf(entries, { offset: 1, limit: 2 });
    expect(idsOf(page)).toEqual(['b', 'c']);
    expect(page.total).toBe(5);
    expect(idsOf(pageOf(entries, { offset: 4 }))).toEqual(['e']);
    expect(idsOf(pageOf(entries, { offset: -3, limit: 1.9 }))).toEqual(['a']);
    expect(idsOf(pageOf(entries, { limit: 0 }))).toEqual([]);
  });

  it('never returns more than the page limit', () => {
    const many = Array.from({ length: DIRECTORY_PAGE_LIMIT + 5 }, (_, i) => ({ id: `b${String(i).padStart(5, '0')}` }));
    const page = pageOf(many, { limit: DIRECTORY_PAGE_LIMIT + 5 });
    expect(page.entries).toHaveLength(DIRECTORY_PAGE_LIMIT);
    expect(page.total).toBe(DIRECTORY_PAGE_LIMIT + 5);
    expect(pageOf(many, undefined).entries).toHaveLength(DIRECTORY_PAGE_LIMIT);
  });
});
