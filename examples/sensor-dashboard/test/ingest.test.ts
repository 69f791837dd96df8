import { connect } from '@boardcast/browser-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dashboard, MAX_BATCH, type Reading } from '../src/contract.js';
import type { RunningDashboard } from '../src/server.js';
import { postReadings, start, waitFor } from './helpers.js';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

let app: RunningDashboard;
beforeAll(async () => {
  app = await start({ maxBodyBytes: 32_768, capacity: 50 });
});
afterAll(async () => {
  await app?.close();
});

const clients: { close(): void }[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

/** A real SSE client (browser-client over fetch) that records every reading it receives. */
async function listen(url: string): Promise<Reading[]> {
  const client = connect(`${url}/api`, dashboard, { transport: 'sse', eventSource: 'fetch' });
  clients.push(client);
  const seen: Reading[] = [];
  client.on('reading', (reading) => seen.push(reading));
  await waitFor(() => client.status === 'open' && client.state, 'the SSE client to get its snapshot');
  return seen;
}

const points = (sensor: 'temperature' | 'humidity' | 'light') => app.hub.state.sensors[sensor].points;

describe('POST /api/readings', () => {
  it('stores one reading, publishes it and updates stats and device status', async () => {
    const seen = await listen(app.url);
    const before = Date.now();
    const res = await postReadings(app.url, { sensor: 'temperature', value: 21.5 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1 });

    const stored = points('temperature').at(-1)!;
    expect(stored.value).toBe(21.5);
    // A device without a clock gets the receipt time.
    expect(stored.at).toBeGreaterThanOrEqual(before);
    expect(stored.at).toBeLessThanOrEqual(Date.now());
    expect(app.hub.state.sensors.temperature.stats.last).toEqual(stored);
    expect(app.hub.state.device.lastSeenAt).toBeGreaterThanOrEqual(before);
    await waitFor(() => seen.length === 1, 'the reading event');
    expect(seen[0]).toEqual({ sensor: 'temperature', value: 21.5, at: stored.at });
  });

  it('stores a batch in order, keeping device timestamps', async () => {
    const seen = await listen(app.url);
    const devicesBefore = app.hub.state.device.readings;
    const t0 = Date.now() + 1000;
    const batch = [
      { sensor: 'humidity', value: 40, at: t0 },
      { sensor: 'humidity', value: 42.5, at: t0 + 100 },
      { sensor: 'light', value: 800, at: t0 + 100 },
      { sensor: 'humidity', value: 41, at: t0 + 200 },
    ];
    const res = await postReadings(app.url, batch);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 4 });
    expect(points('humidity').slice(-3)).toEqual([
      { value: 40, at: t0 },
      { value: 42.5, at: t0 + 100 },
      { value: 41, at: t0 + 200 },
    ]);
    const stats = app.hub.state.sensors.humidity.stats;
    expect(stats.max).toBe(42.5);
    expect(stats.min).toBe(40);
    expect(points('light').at(-1)).toEqual({ value: 800, at: t0 + 100 });
    expect(app.hub.state.device.readings).toBe(devicesBefore + 4);
    await waitFor(() => seen.length === 4, 'four reading events');
    expect(seen).toEqual(batch);
  });

  it('stamps clockless readings of one sensor with successive milliseconds, so the store keeps each', async () => {
    const before = Date.now();
    const res = await postReadings(app.url, [
      { sensor: 'light', value: 640 },
      { sensor: 'light', value: 640 },
      { sensor: 'temperature', value: 20 },
      { sensor: 'light', value: 640 },
    ]);
    expect(res.status).toBe(200);
    const [a, b, c] = points('light').slice(-3);
    expect(a?.at).toBeGreaterThanOrEqual(before);
    expect([b?.at, c?.at]).toEqual([(a?.at ?? 0) + 1, (a?.at ?? 0) + 2]);
    // Equal in sensor, time and value would be one reading to the store (a retried duplicate).
    await waitFor(async () => {
      const stored = await app.store.recent({ sensor: 'light', limit: 3 });
      return stored.length === 3 && stored.every((r) => r.value === 640) && stored[0]?.t === c?.at;
    }, 'three stored light readings');
  });

  it('keeps only the last N readings per sensor, with stats over them', async () => {
    const batch = Array.from({ length: 60 }, (_, i) => ({ sensor: 'light', value: i }));
    expect((await postReadings(app.url, batch)).status).toBe(200);
    const series = app.hub.state.sensors.light;
    expect(series.points).toHaveLength(50);
    expect(series.points[0]!.value).toBe(10);
    expect(series.stats).toMatchObject({ count: 50, min: 10, max: 59, avg: 34.5 });
  });

  const future = () => Date.now() + 10 * 60_000;
  it.each<[string, unknown, number, string, RegExp?]>([
    ['unknown sensor', { sensor: 'pressure', value: 1 }, 400, 'invalid_payload', /sensor/],
    ['value as a string', { sensor: 'temperature', value: '21' }, 400, 'invalid_payload', /value/],
    ['value overflowing to Infinity', '{"sensor":"temperature","value":1e999}', 400, 'invalid_payload', /value/],
    ['value null', { sensor: 'temperature', value: null }, 400, 'invalid_payload', /value/],
    ['temperature above its range', { sensor: 'temperature', value: 500 }, 400, 'invalid_payload', /between -40/],
    ['negative humidity', { sensor: 'humidity', value: -1 }, 400, 'invalid_payload', /between 0 and 100/],
    ['missing value', { sensor: 'light' }, 400, 'invalid_payload', /value/],
    ['a misspelt key', { sensor: 'light', valeu: 3, value: 3 }, 400, 'invalid_payload', /valeu/],
    ['at in seconds', { sensor: 'light', value: 3, at: 1_700_000_000 }, 400, 'invalid_payload', /seconds/],
    ['at in the future', { sensor: 'light', value: 3, at: future() }, 400, 'invalid_payload', /future/],
    ['fractional at', { sensor: 'light', value: 3, at: 1_700_000_000_000.5 }, 400, 'invalid_payload', /at/],
    ['an empty batch', [], 400, 'invalid_payload'],
    [
      'a batch with one bad reading',
      [
        { sensor: 'light', value: 1 },
        { sensor: 'light', value: 2 },
        { sensor: 'light', value: -5 },
      ],
      400,
      'invalid_payload',
      /^batch: 2\.value/,
    ],
    [
      'a batch over the limit',
      Array.from({ length: MAX_BATCH + 1 }, () => ({ sensor: 'light', value: 1 })),
      400,
      'invalid_payload',
      /^batch: .*500/,
    ],
    ['malformed JSON', '{"sensor":', 400, 'invalid_payload', /JSON/],
    ['JSON null', 'null', 400, 'invalid_payload'],
    ['a bare number', '21.5', 400, 'invalid_payload'],
    ['a __proto__ key', '{"sensor":"light","value":1,"__proto__":{"x":1}}', 400, 'invalid_payload', /__proto__/],
  ])('refuses %s with %i %s and stores nothing', async (_name, body, status, code, message) => {
    const seen = await listen(app.url);
    const head = app.hub.headId;
    const before = JSON.stringify(app.hub.state);
    const res = await postReadings(app.url, body);
    expect(res.status).toBe(status);
    const { error } = await res.json();
    expect(error.code).toBe(code);
    if (message) expect(error.message).toMatch(message);
    expect(app.hub.headId).toBe(head);
    expect(JSON.stringify(app.hub.state)).toBe(before);
    // The stream is unaffected: the next good reading still arrives.
    expect((await postReadings(app.url, { sensor: 'humidity', value: 50 })).status).toBe(200);
    await waitFor(() => seen.length === 1, 'the next good reading');
    expect(seen[0]).toMatchObject({ sensor: 'humidity', value: 50 });
  });

  it('refuses a reading older than the newest stored one, for the whole batch', async () => {
    const newest = points('temperature').at(-1)?.at ?? Date.now();
    const head = app.hub.headId;
    const res = await postReadings(app.url, [
      { sensor: 'temperature', value: 20, at: newest + 10 },
      { sensor: 'temperature', value: 20, at: newest + 5 },
    ]);
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error).toMatchObject({ code: 'invalid_payload' });
    expect(error.message).toMatch(/^1\.at: older/);
    expect(app.hub.headId).toBe(head);
  });

  it('requires JSON: text/plain and form bodies get 415 (they need no CORS preflight)', async () => {
    const head = app.hub.headId;
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', '']) {
      const headers: Record<string, string> = type ? { 'Content-Type': type } : {};
      const res = await postReadings(app.url, '{"sensor":"light","value":1}', headers);
      expect(res.status).toBe(415);
      expect((await res.json()).error.code).toBe('unsupported_media_type');
    }
    expect(app.hub.headId).toBe(head);
  });

  it('refuses an oversize body with 413, declared or streamed', async () => {
    const head = app.hub.headId;
    const big = JSON.stringify([{ sensor: 'light', value: 1, pad: 'x'.repeat(40_000) }]);
    const declared = await postReadings(app.url, big);
    expect(declared.status).toBe(413);
    expect((await declared.json()).error.code).toBe('payload_too_large');

    // No Content-Length: the limit applies while reading.
    const chunks = [new TextEncoder().encode(big.slice(0, 20_000)), new TextEncoder().encode(big.slice(20_000))];
    const streamed = await fetch(`${app.url}/api/readings`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await streamed.json()).error.code).toBe('payload_too_large');
    expect(app.hub.headId).toBe(head);
  });

  it('offers no GET form: GET /api/readings is 405 and the seed-style path stores nothing', async () => {
    const head = app.hub.headId;
    const get = await fetch(`${app.url}/api/readings`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const { error } = await get.json();
    expect(error.code).toBe('method_not_allowed');
    expect(error.message).toMatch(/POST/);
    const seedStyle = await fetch(`${app.url}/api/readings/temperature/21`);
    expect(seedStyle.status).toBe(404);
    expect(app.hub.headId).toBe(head);
  });
});

describe('ingest with a bearer token', () => {
  let secured: RunningDashboard;
  beforeAll(async () => {
    secured = await start({ token: 's3cret-token' });
  });
  afterAll(async () => {
    await secured?.close();
  });

  it.each([
    ['no Authorization header', undefined],
    ['a wrong token', 'Bearer nope'],
    ['a token that is a prefix', 'Bearer s3cret'],
    ['the right token as Basic', 'Basic s3cret-token'],
  ])('refuses %s with 401 and stores nothing', async (_name, authorization) => {
    const head = secured.hub.headId;
    const headers: Record<string, string> = { ...JSON_HEADERS };
    if (authorization) headers.Authorization = authorization;
    const res = await postReadings(secured.url, { sensor: 'light', value: 1 }, headers);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect((await res.json()).error.code).toBe('unauthorized');
    expect(secured.hub.headId).toBe(head);
  });

  it('accepts the right token', async () => {
    const res = await postReadings(
      secured.url,
      { sensor: 'light', value: 7 },
      { ...JSON_HEADERS, Authorization: 'Bearer s3cret-token' },
    );
    expect(res.status).toBe(200);
    expect(secured.hub.state.sensors.light.points.at(-1)?.value).toBe(7);
  });

  it('checks the token before reading or validating the body', async () => {
    const res = await postReadings(secured.url, 'not json', { 'Content-Type': 'text/plain' });
    expect(res.status).toBe(401);
  });
});

describe('commands', () => {
  const command = (name: string, body: unknown) =>
    fetch(`${app.url}/api/commands/${name}`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });

  it('set_alarm validates, stores and publishes thresholds', async () => {
    const client = connect(`${app.url}/api`, dashboard, { transport: 'sse', eventSource: 'fetch' });
    clients.push(client);
    const published: unknown[] = [];
    client.on('alarms', (alarms) => published.push(alarms));
    await waitFor(() => client.status === 'open' && client.state, 'snapshot');

    const res = await command('set_alarm', { sensor: 'humidity', low: 30, high: 70 });
    expect(res.status).toBe(200);
    const alarms = await res.json();
    expect(alarms.humidity).toEqual({ low: 30, high: 70 });
    expect(app.hub.state.alarms.humidity).toEqual({ low: 30, high: 70 });
    await waitFor(() => published.length === 1, 'the alarms event');
    expect(published[0]).toEqual(alarms);
  });

  it.each([
    ['low above high', { sensor: 'humidity', low: 80, high: 20 }, /low must be below high/],
    ['low equal to high', { sensor: 'humidity', low: 50, high: 50 }, /low must be below high/],
    ['a threshold outside the sensor range', { sensor: 'humidity', low: null, high: 150 }, /between 0 and 100/],
    ['an unknown sensor', { sensor: 'pressure', low: null, high: 1 }, /sensor/],
    ['a string threshold', { sensor: 'light', low: '5', high: null }, /low/],
    ['a missing field', { sensor: 'light', low: 5 }, /high/],
  ])('set_alarm refuses %s', async (_name, body, message) => {
    const before = JSON.stringify(app.hub.state.alarms);
    const res = await command('set_alarm', body);
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toMatch(message);
    expect(JSON.stringify(app.hub.state.alarms)).toBe(before);
  });

  it('inject adds random readings within each sensor range, without touching the device status', async () => {
    const device = app.hub.state.device;
    const res = await command('inject', { count: 10 });
    expect(res.status).toBe(200);
    const { readings } = (await res.json()) as { readings: Reading[] };
    expect(readings).toHaveLength(30);
    for (const sensor of ['temperature', 'humidity', 'light'] as const) {
      const mine = readings.filter((r) => r.sensor === sensor);
      expect(mine).toHaveLength(10);
      expect(points(sensor).slice(-10)).toEqual(mine.map(({ value, at }) => ({ value, at })));
    }
    expect(app.hub.state.device).toEqual(device);
    const one = await command('inject', { count: 1, sensor: 'light' });
    expect((await one.json()).readings).toHaveLength(1);
  });

  it.each([[{ count: 0 }], [{ count: 11 }], [{ count: 2.5 }], [{ count: 1, sensor: 'x' }]])(
    'inject refuses %j',
    async (body) => {
      const res = await command('inject', body);
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('invalid_payload');
    },
  );
});

describe('several devices (one channel each)', () => {
  let multi: RunningDashboard;
  beforeAll(async () => {
    multi = await start({ devices: ['kitchen'], maxDevices: 3 });
  });
  afterAll(async () => {
    await multi?.close();
  });
  const postTo = (device: string, body: unknown) =>
    fetch(`${multi.url}/api/readings?device=${encodeURIComponent(device)}`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
    });
  const commandTo = (device: string, name: string, body: unknown) =>
    fetch(`${multi.url}/api/commands/${name}?channel=${encodeURIComponent(device)}`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
    });
  const temps = (device: string) => multi.hub.channel(device).state.sensors.temperature.points.map((p) => p.value);

  it('files readings under the device named by ?device=, lists it in the directory, and nowhere else', async () => {
    expect(multi.hub.directory.get('kitchen')).toMatchObject({ kind: 'sensor-device', status: 'offline' });
    expect((await postTo('kitchen', { sensor: 'temperature', value: 21 })).status).toBe(200);
    expect((await postTo('garage', [{ sensor: 'temperature', value: 7 }])).status).toBe(200);
    expect(temps('kitchen')).toEqual([21]);
    expect(temps('garage')).toEqual([7]);
    expect(multi.hub.state.sensors.temperature.points).toEqual([]);
    expect(multi.hub.directory.get('garage')).toMatchObject({ kind: 'sensor-device', status: 'online' });
    expect(multi.hub.channel('garage').state.device.readings).toBe(1);
    // The time-order rule is per device: an older reading is fine on another device.
    const at = Date.now() - 60_000;
    expect((await postTo('kitchen', { sensor: 'humidity', value: 40, at: at + 1000 })).status).toBe(200);
    expect((await postTo('garage', { sensor: 'humidity', value: 41, at })).status).toBe(200);
    // The store keeps them per device too.
    await waitFor(
      async () => (await multi.store.recent({ channel: 'garage', sensor: 'temperature', limit: 5 })).length === 1,
    );
    expect(
      (await multi.store.recent({ channel: 'garage', sensor: 'temperature', limit: 5 })).map((r) => r.value),
    ).toEqual([7]);
  });

  it('alarms and injected readings are per device; a device nobody knows is 404 not_found', async () => {
    const alarm = await commandTo('garage', 'set_alarm', { sensor: 'temperature', low: 2, high: 10 });
    expect(alarm.status).toBe(200);
    expect(multi.hub.channel('garage').state.alarms.temperature).toEqual({ low: 2, high: 10 });
    expect(multi.hub.channel('kitchen').state.alarms.temperature).toEqual({ low: null, high: 30 });
    const before = temps('garage').length;
    const inject = await commandTo('kitchen', 'inject', { count: 2, sensor: 'temperature' });
    expect(inject.status).toBe(200);
    expect(temps('kitchen')).toHaveLength(3);
    expect(temps('garage')).toHaveLength(before);
    for (const name of ['set_alarm', 'inject'] as const) {
      const body = name === 'inject' ? { count: 1 } : { sensor: 'light', low: null, high: null };
      const res = await commandTo('attic', name, body);
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    }
    expect(multi.hub.hasChannel('attic') && multi.hub.channel('attic').entry).toBeFalsy();
  });

  it('refuses a bad device id (400 invalid_payload) and a device past maxDevices (503 too_many_channels)', async () => {
    for (const bad of ['~directory', 'a b', '', 'x'.repeat(129), '-lead']) {
      const res = await postTo(bad, { sensor: 'light', value: 1 });
      expect(res.status, bad).toBe(400);
      expect((await res.json()).error.code).toBe('invalid_payload');
    }
    // kitchen and garage exist; a third device may come, a fourth is refused.
    expect((await postTo('cellar', { sensor: 'light', value: 1 })).status).toBe(200);
    const fourth = await postTo('attic', { sensor: 'light', value: 1 });
    expect(fourth.status).toBe(503);
    expect((await fourth.json()).error.code).toBe('too_many_channels');
    expect(multi.hub.directory.has('attic')).toBe(false);
  });
});
