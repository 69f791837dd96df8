// Promises of defineContract/typed/isStandardSchema. Every contract here is
// defined inside a test, never at module scope: a test file whose import
// throws collects no tests, and Stryker then counts the mutant that broke it
// as survived.
import { describe, expect, it } from 'vitest';
import { isStandardSchema } from '../src/contract.js';
import { defineContract, typed } from '../src/index.js';

const events = (...names: string[]) => Object.fromEntries(names.map((name) => [name, typed<unknown>()]));
const commands = (...names: string[]) =>
  Object.fromEntries(names.map((name) => [name, { input: typed<unknown>(), result: typed<unknown>() }]));

describe('typed', () => {
  it('is the type-only marker and nothing else', () => {
    expect(typed<number>()).toStrictEqual({ '~boardcast.type': 'type-only' });
    expect(isStandardSchema(typed<number>())).toBe(false);
  });
});

describe('defineContract names', () => {
  it('accepts names of 1 to 64 characters: a letter, then letters, digits, _ . -', () => {
    const names = ['a', 'led', 'pin_change', 'v1.2-beta', `a${'b'.repeat(63)}`, 'Z9'];
    const contract = defineContract({ events: events(...names), commands: commands(...names), state: typed<null>() });
    expect(Object.keys(contract.events)).toEqual(names);
    expect(Object.keys(contract.commands)).toEqual(names);
  });

  it.each([
    ['', 'empty'],
    ['1led', 'a digit first'],
    ['_led', 'an underscore first'],
    ['!led', 'a bad first character before a valid rest'],
    ['led!', 'a bad last character after a valid start'],
    ['le d', 'a space'],
    ['lé', 'a non-ASCII letter'],
    [`a${'b'.repeat(64)}`, '65 characters'],
  ])('refuses the event name %j (%s), saying it travels as an SSE event field', (name) => {
    expect(() => defineContract({ events: events(name), commands: {}, state: typed<null>() })).toThrow(
      new TypeError(
        `boardcast: event name "${name}" must match /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/ (it is sent as an SSE event field)`,
      ),
    );
  });

  it.each(['', '1led', 'led/x', `a${'b'.repeat(64)}`])(
    'refuses the command name %j, saying it is part of a URL path',
    (name) => {
      expect(() => defineContract({ events: {}, commands: commands(name), state: typed<null>() })).toThrow(
        new TypeError(
          `boardcast: command name "${name}" must match /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/ (it is part of a URL path)`,
        ),
      );
    },
  );

  it.each(['snapshot', 'reset', 'keepalive', 'message', 'error', 'open'])(
    'refuses the event name %j, which the protocol uses',
    (name) => {
      expect(() => defineContract({ events: events(name), commands: {}, state: typed<null>() })).toThrow(
        new TypeError(`boardcast: event name "${name}" is reserved by the protocol`),
      );
    },
  );

  it('allows the reserved names as command names and near-misses as event names', () => {
    const contract = defineContract({
      events: events('snapshots', 'opened', 'errors'),
      commands: commands('reset', 'open', 'error'),
      state: typed<null>(),
    });
    expect(Object.keys(contract.events)).toEqual(['snapshots', 'opened', 'errors']);
  });
});

describe('defineContract reducers', () => {
  it('keeps function reducers and an explicit undefined (no reducer), frozen', () => {
    const tick = (state: number, data: number) => state + data;
    const contract = defineContract({
      events: { tick: typed<number>(), tock: typed<number>() },
      commands: {},
      state: typed<number>(),
      reducers: { tick, tock: undefined },
    });
    expect(contract.reducers.tick).toBe(tick);
    expect(Object.hasOwn(contract.reducers, 'tock')).toBe(true);
    expect(contract.reducers.tock).toBeUndefined();
    expect(Object.isFrozen(contract.reducers)).toBe(true);
    expect(Object.isFrozen(contract)).toBe(true);
    expect(contract['~boardcast.contract']).toBe(1);
  });

  it('refuses a reducer that names no event', () => {
    expect(() =>
      defineContract({
        events: { tick: typed<number>() },
        commands: {},
        state: typed<number>(),
        // @ts-expect-error: `tock` is no event of this contract
        reducers: { tock: (state: number) => state },
      }),
    ).toThrow(new TypeError('boardcast: reducer "tock" names no event'));
  });

  it('refuses a reducer that names an inherited property rather than an event', () => {
    expect(() =>
      defineContract({
        events: { tick: typed<number>() },
        commands: {},
        state: typed<number>(),
        // @ts-expect-error: `toString` is no event of this contract
        reducers: { toString: (state: number) => state },
      }),
    ).toThrow(new TypeError('boardcast: reducer "toString" names no event'));
  });

  it.each([42, 'add', {}, null])('refuses a reducer that is not a function (%j)', (reducer) => {
    expect(() =>
      defineContract({
        events: { tick: typed<number>() },
        commands: {},
        state: typed<number>(),
        reducers: { tick: reducer as never },
      }),
    ).toThrow(new TypeError('boardcast: reducer "tick" must be a function (state, data) => state'));
  });
});

describe('isStandardSchema', () => {
  const validate = () => ({ value: 1 });

  it('recognises an object or a function (arktype types are functions) with ~standard.validate', () => {
    expect(isStandardSchema({ '~standard': { version: 1, vendor: 't', validate } })).toBe(true);
    expect(
      isStandardSchema(Object.assign(() => undefined, { '~standard': { version: 1, vendor: 't', validate } })),
    ).toBe(true);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', '~standard'],
    ['a number', 7],
    ['a plain object', {}],
    ['~standard null', { '~standard': null }],
    ['~standard undefined', { '~standard': undefined }],
    ['~standard without validate', { '~standard': {} }],
    ['a validate that is not a function', { '~standard': { validate: 'yes' } }],
    ['a function without ~standard', () => undefined],
  ])('says no, without throwing, to %s', (_what, value) => {
    expect(isStandardSchema(value)).toBe(false);
  });
});
