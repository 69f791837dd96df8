/**
 * A single-board app built as in the root README's twenty lines sends the
 * same bytes as 0.1 did, on SSE (with and without `?events=`, fresh and
 * resumed) and on WebSocket, compared against a transcript recorded from
 * the code before channels (commit e4e8663). To record it again from a
 * checkout of that commit: `BOARDCAST_RECORD_TRANSCRIPT=<file> pnpm exec
 * vitest run --project ws-server test/single-board-transcript.test.ts`.
 * Ids are deterministic (MemoryBus epoch `t0`); only the `Date` header is
 * left out.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Button, bindInputs, bindLed, Led, SimulatedBoard } from '@boardcast/board-adapter-gpio';
import { boardEvents, boardReducers, ledCommand } from '@boardcast/board-adapter-gpio/contract';
import { createHub, defineContract, MemoryBus, typed } from '@boardcast/core';
import { boardcastHttp } from '@boardcast/sse-server';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { waitFor } from '../../../test-support/wait.js';
import { createWsEndpoint } from '../src/index.js';

const FIXTURE = new URL('./fixtures/single-board.transcript.json', import.meta.url);
const RECORD = process.env.BOARDCAST_RECORD_TRANSCRIPT;

const contract = defineContract({
  events: { led: boardEvents.led, pin_change: boardEvents.pin_change },
  commands: { led: ledCommand },
  state: typed<{ led: { on: boolean } }>(),
  reducers: { led: boardReducers.led },
});

interface SseRecord {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function openSse(port: number, path: string, headers: Record<string, string> = {}) {
  const record: SseRecord = { status: 0, headers: {}, body: '' };
  const req = request({ host: '127.0.0.1', port, path, headers: { Accept: 'text/event-stream', ...headers } });
  req.on('response', (res) => {
    record.status = res.statusCode ?? 0;
    for (const [name, value] of Object.entries(res.headers)) {
      if (name !== 'date' && typeof value === 'string') record.headers[name] = value;
    }
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      record.body += chunk;
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end();
  return { record, close: () => req.destroy() };
}

function openWs(port: number, path: string) {
  const frames: string[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, 'boardcast.v1');
  ws.on('message', (data: Buffer) => frames.push(data.toString()));
  ws.on('error', () => undefined);
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  return { frames, ws, opened };
}

async function post(port: number, path: string, body: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body,
  });
  return { status: response.status, body: await response.text() };
}

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('a single-board app as in the root README', () => {
  it('sends the bytes 0.1 sent, on SSE and WebSocket', async () => {
    const hub = createHub(contract, { state: { led: { on: false } }, bus: new MemoryBus({ epoch: 't0' }) });
    const board = new SimulatedBoard();
    bindLed(hub, new Led(board, 5));
    bindInputs(hub, [new Button(board, 0)]);
    const api = boardcastHttp(hub, { base: '/api' });
    const server = createServer((req, res) => api.node(req, res));
    createWsEndpoint(hub, { server });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () => new Promise<void>((resolve) => server.close(() => resolve())),
      () => hub.close(),
      () => server.closeAllConnections(),
    );
    const { port } = server.address() as AddressInfo;
    const headOf = () => hub.headId ?? '';
    // Every stream has seen the hub's newest id (or, filtered, at least its snapshot).
    const settled = async (what: string, streams: { text: () => string; filtered?: boolean }[]) => {
      const head = headOf();
      await waitFor(
        () => streams.every((s) => (s.filtered ? s.text().includes('snapshot') : s.text().includes(head))),
        what,
      );
    };

    // The LED's and the button's first levels are published at bind time (t0-1, t0-2); let them land.
    await waitFor(() => headOf() === 't0-2', 'the board bound');
    const a = openSse(port, '/api/events');
    const b = openSse(port, '/api/events?events=led');
    const c = openWs(port, '/ws');
    const d = openWs(port, '/ws?events=led');
    await Promise.all([c.opened, d.opened]);
    const streams = [
      { text: () => a.record.body },
      { text: () => b.record.body, filtered: true },
      { text: () => c.frames.join('\n') },
      { text: () => d.frames.join('\n'), filtered: true },
    ];
    await settled('every stream started', streams);
    const firstHead = headOf();

    const commandOn = await post(port, '/api/commands/led', '{"state":"on"}');
    await settled('led on', streams.slice(0, 1));
    board.press(0);
    await waitFor(() => hub.headId !== undefined && a.record.body.includes('"value":0'), 'the press');
    board.release(0);
    await waitFor(() => a.record.body.split('pin_change').length >= 3, 'the release');
    c.ws.send('{"type":"command","id":1,"command":"led","data":{"state":"off"}}');
    c.ws.send('{"type":"ping","id":"p"}');
    await waitFor(() => c.frames.some((f) => f.includes('"pong"')), 'the pong');
    const commandBad = await post(port, '/api/commands/led', '{"state":"dim"}');
    await settled('every stream has every event', [{ text: () => a.record.body }, { text: () => c.frames.join('\n') }]);
    await waitFor(() => b.record.body.split('event: led').length === 3, 'the filtered SSE stream');
    await waitFor(() => d.frames.filter((f) => f.includes('"event":"led"')).length === 2, 'the filtered socket');

    // Resume from the first head: exactly the events after it, on both transports.
    const e = openSse(port, '/api/events', { 'Last-Event-ID': firstHead });
    const f = openWs(port, `/ws?lastEventId=${encodeURIComponent(firstHead)}`);
    await settled('the resumes', [{ text: () => e.record.body }, { text: () => f.frames.join('\n') }]);
    for (const stream of [a, b, e]) stream.close();
    for (const socket of [c, d, f]) socket.ws.terminate();

    // A loaded machine may take past keepAliveMs: the periodic keep-alive frames after the first are timing, not protocol.
    const KEEPALIVE = 'event: keepalive\ndata: {"intervalMs":15000}\n\n';
    const steady = (record: SseRecord): SseRecord => {
      const first = record.body.indexOf(KEEPALIVE) + KEEPALIVE.length;
      return { ...record, body: record.body.slice(0, first) + record.body.slice(first).replaceAll(KEEPALIVE, '') };
    };
    const transcript = {
      sse: steady(a.record),
      sseFiltered: steady(b.record),
      sseResumed: steady(e.record),
      ws: c.frames,
      wsFiltered: d.frames,
      wsResumed: f.frames,
      commandOn,
      commandBad,
    };
    if (RECORD) {
      writeFileSync(RECORD, `${JSON.stringify(transcript, null, 2)}\n`);
      return;
    }
    const recorded = JSON.parse(readFileSync(FIXTURE, 'utf8')) as typeof transcript;
    expect(transcript).toEqual(recorded);
  });
});
