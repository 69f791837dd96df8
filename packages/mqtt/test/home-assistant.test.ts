import { BoardcastError } from '@boardcast/core';
import { describe, expect, it } from 'vitest';
import { expandConfig, parseDiscoveryTopic } from '../src/home-assistant.js';
import { compileValueTemplate } from '../src/index.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof BoardcastError ? error.code : String(error);
  }
  return 'no error';
}

describe('value_template subset', () => {
  it('reads value, value_json paths, quoted keys, indices and the listed filters', () => {
    const json = '{"a":{"b":[10,{"c":"x"}]},"temp":21.456,"on":true,"off":false,"n":null,"k y":"ON","s":" Hi "}';
    const cases: [string, string | undefined][] = [
      ['{{ value }}', json],
      ['{{value_json.a.b[0]}}', '10'],
      ["{{ value_json['a'].b[1].c }}", 'x'],
      ['{{ value_json["k y"] }}', 'ON'],
      ['{{ value_json.temp | round(1) }}', '21.5'],
      ['{{ value_json.temp | int }}', '21'],
      ['{{ value_json.temp | float }}', '21.456'],
      ['{{ value_json.on }}', 'True'],
      ['{{ value_json.off }}', 'False'],
      ['{{ value_json.n }}', 'None'],
      ['{{ value_json.s | trim | lower }}', 'hi'],
      ['{{ value_json.a.b }}', '[10,{"c":"x"}]'],
      ['{{ value_json.missing }}', undefined],
      ['{{ value_json.a.b[7] }}', undefined],
      ['{{ value_json.constructor }}', undefined],
    ];
    for (const [template, expected] of cases)
      expect(compileValueTemplate(template)(json, 't'), template).toBe(expected);
    expect(compileValueTemplate('{{ value | upper }}')('on', 't')).toBe('ON');
  });

  it('refuses what is outside the subset with unsupported', () => {
    for (const template of [
      '{% if value == "1" %}ON{% endif %}',
      '{{ value_json.a }} C',
      'x {{ value }}',
      '{{ value_json.a }}{{ value }}',
      '{{ value_json.a if value_json.b else 0 }}',
      '{{ value_json.a * 10 }}',
      '{{ value_json.a == 1 }}',
      '{{ value_json.a is defined }}',
      '{{ value_json.a | default(0) }}',
      '{{ states("sensor.x") }}',
      '{{ now() }}',
      '{{ value_json.get("a") }}',
      '{{ value_json[value] }}',
      'plain text',
    ]) {
      expect(
        code(() => compileValueTemplate(template)),
        template,
      ).toBe('unsupported');
    }
  });

  it('a value_json template on a payload that is not JSON is invalid_payload', () => {
    expect(code(() => compileValueTemplate('{{ value_json.a }}')('{"a":', 't'))).toBe('invalid_payload');
  });
});

describe('Home Assistant discovery topics and payloads', () => {
  it('parses the discovery topic with and without node id, and refuses other shapes', () => {
    expect(parseDiscoveryTopic('homeassistant', 'homeassistant/switch/relay1/config')).toEqual({
      component: 'switch',
      nodeId: undefined,
      objectId: 'relay1',
    });
    expect(parseDiscoveryTopic('homeassistant', 'homeassistant/sensor/node-1/temp_c/config')).toEqual({
      component: 'sensor',
      nodeId: 'node-1',
      objectId: 'temp_c',
    });
    for (const topic of [
      'homeassistant/switch/config',
      'homeassistant/a/b/c/d/config',
      'homeassistant/switch/re lay/config',
      'homeassistant/switch/relay/state',
      'other/switch/relay/config',
    ]) {
      expect(parseDiscoveryTopic('homeassistant', topic), topic).toBeUndefined();
    }
  });

  it('expands abbreviations (long form wins) and ~ at the start or end of *_topic values', () => {
    const config = expandConfig({
      '~': 'tasmota_plug/',
      name: 'Plug',
      cmd_t: '~cmnd/POWER',
      stat_t: '~tele/STATE',
      avty_t: 'LWT/~',
      json_attr_t: 'plain/topic',
      pl_on: 'ON',
      payload_on: 'On',
      dev: { ids: ['9A55A3'], mf: 'Tasmota', sw: '9.1' },
      avty: [{ t: '~avail', pl_avail: 'up' }],
    });
    expect(config.command_topic).toBe('tasmota_plug/cmnd/POWER');
    expect(config.state_topic).toBe('tasmota_plug/tele/STATE');
    expect(config.availability_topic).toBe('LWT/tasmota_plug/');
    expect(config.json_attributes_topic).toBe('plain/topic');
    expect(config.payload_on).toBe('On');
    expect(config.device).toEqual({ identifiers: ['9A55A3'], manufacturer: 'Tasmota', sw_version: '9.1' });
    expect(config.availability).toEqual([{ topic: 'tasmota_plug/avail', payload_available: 'up' }]);
  });

  it('device discovery components inherit the top-level ~', () => {
    const config = expandConfig({
      '~': 'bedroom/sensor',
      dev: { ids: 'x' },
      o: { name: 'bla2mqtt', sw: '2.1', url: 'https://bla2mqtt.example.com/support' },
      cmps: { t: { p: 'sensor', stat_t: '~/state' } },
    });
    expect((config.components as Record<string, Record<string, unknown>>).t?.state_topic).toBe('bedroom/sensor/state');
    expect(config.origin).toEqual({
      name: 'bla2mqtt',
      sw_version: '2.1',
      support_url: 'https://bla2mqtt.example.com/support',
    });
  });
});
