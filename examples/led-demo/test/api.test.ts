import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Demo } from '../src/server.js';
import { waitFor } from './helpers.js';
import { startTestDemo } from './test-demo.js';

let demo: Demo;
const lines: string[] = [];

beforeAll(async () => {
  demo = await startTestDemo({ log: (line) => lines.push(line), timeIntervalMs: 100 });
});
afterAll(async () => {
  await demo?.close();
});

const api = (path: string, init?: RequestInit) =>
  fetch(new URL(path, demo.url.replace('localhost', '127.0.0.1')), init);
const post = (path: string, body: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
  api(path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('led-demo HTTP API', () => {
  it('switches the LED with the led command and reports the confirmed state', async () => {
    const on = await post('/api/commands/led', { state: 'on' });
    expect(on.status).toBe(200);
    expect(await on.json()).toEqual({ on: true });
    const toggled = await post('/api/commands/led', { state: 'toggle' });
    expect(await toggled.json()).toEqual({ on: false });
    const state = await (await api('/api/state')).json();
    expect(state.led).toEqual({ on: false });
    expect(lines.some((l) => /^cmd {2}led via http.*: ok/.test(l))).toBe(true);
  });

  it('serves the snapshot with inputs, time and board', async () => {
    const res = await api('/api/state');
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const state = await res.json();
    expect(state.board).toEqual({ id: 'sim', kind: 'simulated', status: 'online' });
    expect(state.inputs['0']).toMatchObject({ name: 'Button', activeLevel: 0 });
    expect(state.inputs['4']).toMatchObject({ name: 'Input', activeLevel: 1 });
    const before = state.time;
    await waitFor(async () => (await (await api('/api/state')).json()).time !== before, 'the time to tick');
  });

  it('drives simulated inputs and publishes the change', async () => {
    const res = await post('/api/sim/inputs/0', { value: 0 });
    expect(res.status).toBe(200);
    await waitFor(async () => (await (await api('/api/state')).json()).inputs['0'].level === 0, 'button level 0');
    await post('/api/sim/inputs/0', { value: 1 });
    await waitFor(async () => (await (await api('/api/state')).json()).inputs['0'].level === 1, 'button level 1');
  });

  it.each([
    ['bad state', '/api/commands/led', { state: 'dim' }, undefined, 400, 'invalid_payload'],
    ['unknown command', '/api/commands/blink', {}, undefined, 404, 'unknown_command'],
    ['bad JSON', '/api/commands/led', '{', undefined, 400, 'invalid_payload'],
    [
      'a form post',
      '/api/commands/led',
      'state=on',
      { 'Content-Type': 'application/x-www-form-urlencoded' },
      415,
      'unsupported_media_type',
    ],
    ['oversize body', '/api/commands/led', { state: 'x'.repeat(70_000) }, undefined, 413, 'payload_too_large'],
    ['sim value 2', '/api/sim/inputs/0', { value: 2 }, undefined, 400, 'invalid_payload'],
    ['sim unknown pin', '/api/sim/inputs/13', { value: 1 }, undefined, 422, 'unsupported'],
    ['sim form post', '/api/sim/inputs/0', 'value=1', { 'Content-Type': 'text/plain' }, 415, 'unsupported_media_type'],
    ['sim oversize', '/api/sim/inputs/0', { value: 1, pad: 'x'.repeat(2000) }, undefined, 413, 'payload_too_large'],
    ['sim __proto__', '/api/sim/inputs/0', '{"__proto__":{"value":1}}', undefined, 400, 'invalid_payload'],
  ])('%s → %i %s', async (_name, path, body, headers, status, code) => {
    const res = await post(path, body, headers);
    expect(res.status).toBe(status);
    expect((await res.json()).error.code).toBe(code);
  });

  it('logs one line for every command, including those refused before they reach the hub', async () => {
    lines.length = 0;
    await post('/api/commands/led', 'state=on', { 'Content-Type': 'text/plain' });
    await post('/api/commands/led', { state: 'dim' });
    await post('/api/commands/led', { state: 'off' });
    expect(lines.filter((l) => l.startsWith('cmd'))).toEqual([
      'cmd  led via http: refused unsupported_media_type',
      expect.stringMatching(/^cmd {2}led via http: invalid_payload/),
      expect.stringMatching(/^cmd {2}led via http: ok/),
    ]);
  });

  it('answers wrong methods with 405 and unknown paths with 404', async () => {
    const getSim = await api('/api/sim/inputs/0');
    expect(getSim.status).toBe(405);
    expect((await getSim.json()).error.code).toBe('method_not_allowed');
    const postState = await api('/api/state', { method: 'POST' });
    expect(postState.status).toBe(405);
    const missing = await api('/nope');
    expect(missing.status).toBe(404);
  });

  it('serves the page with the default transport filled in', async () => {
    const page = await api('/');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('data-default-transport="sse"');
    expect(html).not.toMatch(/https?:\/\/(?!localhost)/); // no CDN, no external fonts
  });
});
