import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonPath } from '../../../test-support/system.js';
import type { RunningDashboard } from '../src/server.js';
import { postReadings, start } from './helpers.js';

const snippet = fileURLToPath(new URL('../device/esp32_post_readings.py', import.meta.url));

/**
 * Run the MicroPython snippet's own `to_json` under CPython, with the
 * board-only modules stubbed (they cannot run here), and print its body.
 */
const HARNESS = `
import sys, types
for name in ("network", "urequests", "machine"):
    sys.modules[name] = types.ModuleType(name)
class _Pin:
    def __init__(self, *a): pass
class _ADC:
    ATTN_11DB = 3
    def __init__(self, *a): pass
    def atten(self, *a): pass
sys.modules["machine"].Pin = _Pin
sys.modules["machine"].ADC = _ADC
source = open(sys.argv[1]).read().rsplit("\\nmain()", 1)[0]
scope = {"__name__": "snippet"}
exec(compile(source, sys.argv[1], "exec"), scope)
print(scope["to_json"]([("temperature", 21.5), ("humidity", 40), ("light", 812)]))
scope["SERVER"] = sys.argv[2]
print(scope["ingest_url"]())
scope["DEVICE"] = "kitchen"
print(scope["ingest_url"]())
`;

describe.skipIf(!pythonPath)('the ESP32 snippet', () => {
  let app: RunningDashboard;
  beforeAll(async () => {
    app = await start({ token: 'board-token' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('builds a body the ingest route accepts', async () => {
    const [body = '', defaultUrl = '', kitchenUrl = ''] = execFileSync(pythonPath!, ['-c', HARNESS, snippet, app.url], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    expect(JSON.parse(body)).toEqual([
      { sensor: 'temperature', value: 21.5 },
      { sensor: 'humidity', value: 40 },
      { sensor: 'light', value: 812 },
    ]);
    const res = await postReadings(app.url, body, {
      'Content-Type': 'application/json',
      Authorization: 'Bearer board-token',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 3 });
    expect(app.hub.state.sensors.light.points.at(-1)?.value).toBe(812);
    // With DEVICE set, the same body goes to that device's channel.
    expect(defaultUrl).toBe(`${app.url}/api/readings`);
    expect(kitchenUrl).toBe(`${app.url}/api/readings?device=kitchen`);
    const kitchen = await fetch(kitchenUrl, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer board-token' },
    });
    expect(await kitchen.json()).toEqual({ accepted: 3 });
    expect(app.hub.channel('kitchen').state.sensors.light.points.map((p) => p.value)).toEqual([812]);
  });
});
