import { createHub, defineContract, type StandardSchemaV1, typed } from '@boardcast/core';
import { describe, expect, it } from 'vitest';
import { boardEvents, ledCommand } from '../src/contract.js';

/** Run a Standard Schema validator (ours are synchronous). */
function check(entry: StandardSchemaV1, value: unknown) {
  const result = entry['~standard'].validate(value);
  if (result instanceof Promise) throw new Error('expected a synchronous validator');
  return result;
}

const contract = defineContract({
  events: { ...boardEvents },
  commands: { led: ledCommand },
  state: typed<{ on: boolean }>(),
});

describe('board vocabulary validators (Standard Schema, no library)', () => {
  it('are Standard Schema v1 validators', () => {
    for (const entry of [...Object.values(boardEvents), ledCommand.input, ledCommand.result]) {
      expect(entry['~standard']).toMatchObject({ version: 1, vendor: 'boardcast' });
    }
  });

  it.each([
    ['ledCommand.input', ledCommand.input, [{ state: 'on' }, { state: 'off' }, { state: 'toggle' }]],
    ['led', boardEvents.led, [{ on: true }, { on: false }]],
    [
      'pin_change',
      boardEvents.pin_change,
      [
        { pin: 4, value: 1 },
        { pin: 'GPIO17', value: 0 },
      ],
    ],
    ['reading', boardEvents.reading, [{ sensor: 'temp', value: -3.5, at: 1_700_000_000_000 }]],
    [
      'board',
      boardEvents.board,
      [
        { id: 'esp32-1', status: 'online' },
        { id: '', status: 'offline' },
      ],
    ],
  ] as const)('%s accepts its shape and hands on only its fields', (_name, entry, good) => {
    for (const value of good) {
      const result = check(entry, { ...value, extra: 'dropped' });
      expect(result.issues).toBeUndefined();
      expect((result as { value: unknown }).value).toEqual(value);
    }
  });

  it.each([
    [
      'ledCommand.input',
      ledCommand.input,
      [null, undefined, [], 'on', {}, { state: 'dim' }, { state: 'ON' }, { state: null }],
      'state',
    ],
    ['led', boardEvents.led, [null, {}, { on: 1 }, { on: 'true' }], 'on'],
    [
      'pin_change',
      boardEvents.pin_change,
      [null, { pin: 4 }, { pin: 4, value: 2 }, { pin: -1, value: 0 }, { pin: 1.5, value: 0 }, { pin: '', value: 1 }],
      undefined,
    ],
    [
      'reading',
      boardEvents.reading,
      [null, { sensor: 't', value: '1', at: 0 }, { sensor: 't', value: Number.NaN, at: 0 }, { value: 1, at: 0 }],
      undefined,
    ],
    [
      'board',
      boardEvents.board,
      [null, { id: 'x' }, { id: 'x', status: 'up' }, { id: 1, status: 'online' }],
      undefined,
    ],
  ] as const)('%s refuses null, missing fields and wrong enums, naming the field', (_name, entry, bad, field) => {
    for (const value of bad) {
      const result = check(entry, value);
      expect(result.issues?.length, JSON.stringify(value)).toBe(1);
      if (field && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        expect(result.issues?.[0]?.path).toEqual([field]);
      }
    }
  });

  it('a hub refuses a bad led command with invalid_payload before the handler runs', async () => {
    const hub = createHub(contract, { state: { on: false } });
    let ran = 0;
    hub.handle('led', ({ state }) => {
      ran += 1;
      return { on: state === 'on' };
    });
    for (const input of [null, {}, { state: 'dim' }, [], 'on']) {
      const result = await hub.dispatch('led', input);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('invalid_payload');
        expect(result.error.status).toBe(400);
      }
    }
    expect(ran).toBe(0);
    expect(await hub.call('led', { state: 'on' })).toEqual({ on: true });
    expect(ran).toBe(1);
    await hub.close();
  });

  it('with validateEvents, a hub refuses a malformed board event', async () => {
    const hub = createHub(contract, { state: { on: false }, validateEvents: true });
    const errors: unknown[] = [];
    hub.on('error', (error) => errors.push(error));
    await expect(hub.publish('pin_change', { pin: 4, value: 3 } as never)).rejects.toMatchObject({
      code: 'invalid_payload',
    });
    expect(errors).toHaveLength(1);
    await hub.close();
  });
});
