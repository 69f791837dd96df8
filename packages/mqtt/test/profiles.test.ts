import { BoardcastError } from '@boardcast/core';
import { describe, expect, it } from 'vitest';
import {
  atPath,
  decodeLevel,
  decodeNumber,
  esphome,
  MqttBoard,
  type OutputTopics,
  type StateSource,
  tasmota,
} from '../src/index.js';

const topicsOf = (state: OutputTopics['state']) =>
  (Array.isArray(state) ? state : [state]).map((s: string | StateSource<0 | 1>) =>
    typeof s === 'string' ? s : s.topic,
  );

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return error instanceof BoardcastError ? error.code : String(error);
  }
}

describe('tasmota()', () => {
  it('one relay is POWER, answered on stat POWER, RESULT and STATE; the LWT is availability', () => {
    const map = tasmota('plug');
    expect(map.outputs).toHaveLength(1);
    const relay = map.outputs?.[0] as OutputTopics;
    expect(relay.pin).toBe('POWER');
    expect(relay.command).toBe('cmnd/plug/POWER');
    expect(relay.query).toEqual({ topic: 'cmnd/plug/POWER', payload: '' });
    expect(topicsOf(relay.state)).toEqual([
      'stat/plug/POWER',
      'stat/plug/POWER1',
      'stat/plug/RESULT',
      'tele/plug/STATE',
    ]);
    expect(map.availability).toEqual({ topic: 'tele/plug/LWT', online: 'Online', offline: 'Offline' });
    expect(map.queries).toEqual([]);
  });

  it('numbers many relays, maps pins, reads switches and sensors from RESULT, SENSOR and STATUS10', () => {
    const map = tasmota('strip', { relays: { 5: 1, lamp: 3 }, switches: 1, sensors: { t: 'DS18B20.Temperature' } });
    expect(map.outputs?.map((o) => [o.pin, o.command])).toEqual([
      [5, 'cmnd/strip/POWER'],
      ['lamp', 'cmnd/strip/POWER3'],
    ]);
    const relay3 = map.outputs?.[1] as OutputTopics;
    const result = (Array.isArray(relay3.state) ? relay3.state : []).find(
      (s: StateSource<0 | 1>) => s.topic === 'stat/strip/RESULT',
    ) as StateSource<0 | 1>;
    expect(result.decode?.('{"POWER3":"ON"}', 'stat/strip/RESULT')).toBe(1);
    expect(result.decode?.('{"POWER1":"ON"}', 'stat/strip/RESULT')).toBeUndefined();
    expect(result.decode?.('{"Dimmer":40}', 'stat/strip/RESULT')).toBeUndefined();
    expect(code(() => result.decode?.('{"POWER3":1}', 'stat/strip/RESULT'))).toBe('invalid_payload');
    expect(map.inputs?.[0]?.pin).toBe('Switch1');
    const [fromResult, fromSensor, fromStatus] = (map.inputs?.[0]?.state ?? []) as StateSource<0 | 1>[];
    expect(fromResult?.decode?.('{"Switch1":{"Action":"OFF"}}', 't')).toBe(0);
    expect(fromSensor?.decode?.('{"Time":"x","Switch1":"ON"}', 't')).toBe(1);
    expect(fromStatus?.decode?.('{"StatusSNS":{"Switch1":"ON"}}', 't')).toBe(1);
    const [tele, status] = (map.sensors?.[0]?.state ?? []) as StateSource<number>[];
    expect(tele?.decode?.('{"DS18B20":{"Temperature":21.5}}', 't')).toBe(21.5);
    expect(status?.decode?.('{"StatusSNS":{"DS18B20":{"Temperature":-3}}}', 't')).toBe(-3);
    expect(map.queries).toEqual([{ topic: 'cmnd/strip/STATUS', payload: '10', response: 'stat/strip/STATUS10' }]);
  });

  it('refuses topics with wildcards and impossible relay numbers', () => {
    expect(code(() => tasmota(''))).toBe('invalid_payload');
    expect(code(() => tasmota('a/#'))).toBe('invalid_payload');
    expect(code(() => tasmota('x', { relays: { 1: 33 } }))).toBe('invalid_payload');
  });
});

describe('a hand-written topic map', () => {
  // Publishing to a wildcard is a protocol error: mosquitto drops the
  // connection, so each write would take the board offline. Refused before
  // any connection is made (the URL is never dialled).
  it.each([
    ['a command topic with +', { outputs: [{ pin: 'relay', command: 'cmnd/+/POWER', state: 'stat/a/POWER' }] }, {}],
    ['an empty command topic', { outputs: [{ pin: 'relay', command: '', state: 'stat/a/POWER' }] }, {}],
    [
      'a query topic with #',
      { outputs: [{ pin: 'r', command: 'c', state: 's', query: { topic: 'q/#', payload: '' } }] },
      {},
    ],
    ['a board query with #', { queries: [{ topic: 'x/#', payload: '' }] }, {}],
    ['a syncTopic with +', {}, { syncTopic: 'sync/+' }],
  ])('refuses %s with invalid_payload', (_, topics, extra) => {
    expect(code(() => new MqttBoard({ id: 'x', url: 'mqtt://127.0.0.1:1', topics, ...extra }))).toBe('invalid_payload');
  });
});

describe('esphome()', () => {
  it('maps switches, binary sensors and sensors by object id', () => {
    const map = esphome('node', { switches: { 5: 'relay' }, binarySensors: ['button'], sensors: ['temperature'] });
    expect(map.outputs).toEqual([
      { pin: 5, name: 'relay', command: 'node/switch/relay/command', state: 'node/switch/relay/state' },
    ]);
    expect(map.inputs).toEqual([{ pin: 'button', name: 'button', state: 'node/binary_sensor/button/state' }]);
    expect(map.sensors).toEqual([{ name: 'temperature', state: 'node/sensor/temperature/state' }]);
    expect(map.availability).toEqual({ topic: 'node/status', online: 'online', offline: 'offline' });
    expect(code(() => esphome('node', { switches: ['a/b'] }))).toBe('invalid_payload');
  });
});

describe('decoders', () => {
  it('levels: the usual spellings, nothing else', () => {
    for (const on of ['ON', 'on', 'On', '1', 'true', ' ON ']) expect(decodeLevel(on, 't')).toBe(1);
    for (const off of ['OFF', 'off', '0', 'false']) expect(decodeLevel(off, 't')).toBe(0);
    for (const bad of ['', 'MAYBE', '2', 'ONN', '{"POWER":"ON"}', 'toString', 'constructor', '__proto__'])
      expect(code(() => decodeLevel(bad, 't'))).toBe('invalid_payload');
  });

  it('an error quotes a payload short and escaped (it reaches logs)', () => {
    let message = '';
    try {
      decodeLevel('ON\n[boardcast] forged line\u202e', 'stat/x/POWER');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('ON\\n[boardcast]');
    expect(message).not.toMatch(/[\n\u202e]/);
    expect(code(() => decodeNumber()('x'.repeat(100_000), 't'))).toBe('invalid_payload');
  });

  it('numbers: plain or at a JSON path; a missing path is "not about me"', () => {
    expect(decodeNumber()('21.5', 't')).toBe(21.5);
    expect(code(() => decodeNumber()('', 't'))).toBe('invalid_payload');
    expect(code(() => decodeNumber()('NaN', 't'))).toBe('invalid_payload');
    expect(code(() => decodeNumber()('warm', 't'))).toBe('invalid_payload');
    expect(decodeNumber('a.b')('{"a":{"b":3}}', 't')).toBe(3);
    expect(decodeNumber('a.b')('{"a":{}}', 't')).toBeUndefined();
    expect(code(() => decodeNumber('a.b')('{"a":{"b":"3"}}', 't'))).toBe('invalid_payload');
    expect(code(() => decodeNumber('a.b')('{"a":', 't'))).toBe('invalid_payload');
    expect(atPath({ a: [{ b: 1 }] }, 'a.0.b')).toBe(1);
    expect(atPath({ a: 1 }, 'constructor')).toBeUndefined();
  });

  it('a plain number is decimal: hex, binary, octal, Infinity and separators are refused (issue 27)', () => {
    for (const [text, value] of [
      ['16', 16],
      [' -3.25 ', -3.25],
      ['+2', 2],
      ['.5', 0.5],
      ['5.', 5],
      ['1e3', 1000],
      ['-2.5E-1', -0.25],
      ['007', 7],
    ] as const) {
      expect(decodeNumber()(text, 't')).toBe(value);
    }
    for (const text of [
      '0x10',
      '0X1f',
      '0b11',
      '0o7',
      'Infinity',
      '-Infinity',
      '1_000',
      '1,5',
      '1e',
      '.',
      '-',
      '1 2',
    ]) {
      expect(
        code(() => decodeNumber()(text, 't')),
        text,
      ).toBe('invalid_payload');
    }
  });
});
