import { describe, expect, it } from 'vitest';
import { createStateMirror } from '../src/index.js';
import { contract } from './helpers.js';

const initial = { led: { on: false }, tick: 0, pins: {} as Record<string, 0 | 1> };

describe('createStateMirror', () => {
  it('replaces the field named like the event by default, as a new object', () => {
    const mirror = createStateMirror(contract);
    expect(mirror.getSnapshot()).toBeUndefined();
    mirror.apply('led', { on: true }, 'e-1'); // before any snapshot: nothing to apply to
    expect(mirror.getSnapshot()).toBeUndefined();
    mirror.replace(initial);
    mirror.apply('led', { on: true }, 'e-2');
    expect(mirror.getSnapshot()).toEqual({ led: { on: true }, tick: 0, pins: {} });
    expect(mirror.getSnapshot()).not.toBe(initial);
    expect(initial.led.on).toBe(false);
  });

  it('leaves state untouched (same object, no notification) for events with no field and no reducer', () => {
    const mirror = createStateMirror(contract, { initialState: initial });
    let calls = 0;
    mirror.subscribe(() => calls++);
    mirror.apply('pin_change', { pin: 'P10', value: 1 }, 'e-1');
    expect(mirror.getSnapshot()).toBe(initial);
    expect(calls).toBe(0);
  });

  it('runs per-event reducers and notifies subscribers once per change', () => {
    const mirror = createStateMirror(contract, {
      initialState: initial,
      reducers: {
        pin_change: (state, { pin, value }) => ({ ...state, pins: { ...state.pins, [pin]: value } }),
        tick: (state, n) => (n > state.tick ? { ...state, tick: n } : state),
      },
    });
    const seen: unknown[] = [];
    const unsubscribe = mirror.subscribe(() => seen.push(mirror.getSnapshot()));
    mirror.apply('pin_change', { pin: 'P10', value: 1 }, 'e-1');
    mirror.apply('tick', 5, 'e-2');
    mirror.apply('tick', 3, 'e-3'); // reducer returned the same state: no notification
    expect(seen).toEqual([
      { led: { on: false }, tick: 0, pins: { P10: 1 } },
      { led: { on: false }, tick: 5, pins: { P10: 1 } },
    ]);
    unsubscribe();
    mirror.apply('tick', 9, 'e-4');
    expect(seen).toHaveLength(2);
    expect(mirror.getSnapshot()?.tick).toBe(9);
  });

  it('has a stable getSnapshot between changes and survives a throwing subscriber', () => {
    const mirror = createStateMirror(contract, { initialState: initial });
    const { getSnapshot, subscribe } = mirror; // unbound use, as useSyncExternalStore does
    expect(getSnapshot()).toBe(getSnapshot());
    let good = 0;
    const original = console.error;
    console.error = () => undefined;
    try {
      subscribe(() => {
        throw new Error('ui bug');
      });
      subscribe(() => good++);
      mirror.replace({ ...initial, tick: 1 });
    } finally {
      console.error = original;
    }
    expect(good).toBe(1);
  });
});
