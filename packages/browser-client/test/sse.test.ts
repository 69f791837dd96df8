import type { BoardcastError } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type BoardcastClient, connect, MIN_RETRY_DELAY_MS } from '../src/index.js';
import { codeOf, contract, countingServer, rawServer, runCleanups, startHub, tick, track, until } from './helpers.js';
import { receivesInOrder, resetsWhenHistoryIsGone, survivesRestart } from './transport-scenarios.js';

afterEach(runCleanups);

describe('SSE transport against a real sse-server', () => {
  it('receives the snapshot, then typed events in order, and mirrors state', () =>
    receivesInOrder({ transport: 'sse' }));

  it('filters with `events`', async () => {
    const { hub, server } = await startHub();
    const client = connect(server.url, contract, { events: ['led'] });
    const t = track(client);
    const leds: boolean[] = [];
    client.on('led', (d) => leds.push(d.on));
    await until(() => client.status === 'open' && client.state);
    await tick(hub, 1);
    await hub.publish('led', { on: true });
    await until(() => leds.length === 1);
    expect(t.ticks).toEqual([]);
  });

  it('survives a server restart: reconnects, resumes, loses and duplicates nothing', () =>
    survivesRestart({ transport: 'sse' }));

  it('resets to a fresh snapshot when history no longer reaches back', () =>
    resetsWhenHistoryIsGone({ transport: 'sse' }));

  it('runs commands and rejects with every server error code', async () => {
    const { server } = await startHub({ http: { commands: { maxBodyBytes: 1024 } } });
    const client = connect(server.url, contract);
    track(client);
    await expect(client.command('led', { state: 'on' })).resolves.toEqual({ on: true });
    await until(() => client.state?.led.on === true);

    // biome-ignore lint/suspicious/noExplicitAny: deliberately breaking the contract's types
    const untyped = client as BoardcastClient<any>;
    expect(await codeOf(untyped.command('nope', {}))).toBe('unknown_command');
    expect(await codeOf(untyped.command('led', { state: 'sideways' }))).toBe('invalid_payload');
    expect(await codeOf(client.command('echo', 'x'.repeat(5000)))).toBe('payload_too_large');
    expect(await codeOf(client.command('fail', { code: 'crash' }))).toBe('handler_failed');
    for (const code of ['board_offline', 'forbidden', 'unauthorized', 'too_many_requests', 'unsupported'] as const) {
      expect(await codeOf(client.command('fail', { code }))).toBe(code);
    }
    expect(await codeOf(client.command('slow', { ms: 5000 }))).toBe('timeout'); // hub timeout (2 s)
    expect(await codeOf(client.command('slow', { ms: 5000 }, { timeout: 50 }))).toBe('timeout'); // client timeout
    const pending = client.command('slow', { ms: 5000 });
    client.close();
    expect(await codeOf(pending)).toBe('closed');
    expect(await codeOf(client.command('led', { state: 'on' }))).toBe('closed');
  });

  it('sends headers (Authorization) with the stream and commands; 401 stops retrying', async () => {
    const token = (req: { header(name: string): string | undefined }) => req.header('authorization');
    const { server } = await startHub({
      http: {
        sse: { authorize: (req) => token(req) === 'Bearer admin' || token(req) === 'Bearer viewer' },
        commands: { authorize: (req) => token(req) === 'Bearer admin' },
      },
    });
    const admin = connect(server.url, contract, { headers: () => ({ authorization: 'Bearer admin' }) });
    track(admin);
    await until(() => admin.state);
    await expect(admin.command('led', { state: 'on' })).resolves.toEqual({ on: true });
    const viewer = connect(server.url, contract, { headers: { authorization: 'Bearer viewer' } });
    track(viewer);
    await until(() => viewer.state?.led.on === true);
    await expect(viewer.command('led', { state: 'off' })).rejects.toMatchObject({ code: 'unauthorized' });

    const stranger = connect(server.url, contract, { headers: { authorization: 'Bearer nobody' } });
    const t = track(stranger);
    const inFlight = stranger.command('led', { state: 'on' }).catch((e: BoardcastError) => e.code);
    await until(() => stranger.status === 'closed');
    expect(stranger.error?.code).toBe('unauthorized');
    expect(t.statuses.map((s) => s.status)).toEqual(['closed']);
    // Closing the client settles whatever it still had running.
    expect(['unauthorized', 'closed']).toContain(await inFlight);
  });

  it.each([
    [204, 'closed'],
    [403, 'forbidden'],
  ])('HTTP %s ends retrying with a clear status', async (status, code) => {
    const raw = await countingServer((_req, res) => res.writeHead(status).end());
    const client = connect(raw.url, contract, { reconnect: { initialDelayMs: 5 } });
    track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe(code);
    expect(raw.requests).toBe(1);
  });

  it('gives up after maxAttempts with network_error', async () => {
    const raw = await rawServer(() => undefined);
    const url = raw.url;
    await raw.close(); // nothing listens there any more
    const client = connect(url, contract, { reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 3 } });
    const t = track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('network_error');
    expect(t.statuses.filter((s) => s.status === 'reconnecting').map((s) => s.attempt)).toEqual([1, 2, 3]);
  });

  it('retries a 503 and a stream that ends, honouring the server retry:', async () => {
    const lastIds: (string | undefined)[] = [];
    const raw = await countingServer((req, res, n) => {
      lastIds.push(req.headers['last-event-id'] as string | undefined);
      if (n === 1) {
        res.writeHead(503, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { code: 'too_many_clients', message: 'full' } }));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        `retry: 700\n\nevent: snapshot\nid: e-1\ndata: {"led":{"on":false},"tick":0,"pins":{}}\n\nid: e-${n}\nevent: tick\ndata: ${n}\n\n`,
      );
    });
    const client = connect(raw.url, contract, { reconnect: { initialDelayMs: 10 } });
    const t = track(client);
    await until(() => raw.requests >= 4);
    client.close();
    expect(t.errors[0]?.code).toBe('too_many_clients');
    expect(lastIds.slice(0, 3)).toEqual([undefined, undefined, 'e-2']);
    // Before any retry: the base is initialDelayMs (10), raised to the 250 ms floor.
    expect(t.statuses.find((s) => s.delayMs !== undefined)?.delayMs).toBe(MIN_RETRY_DELAY_MS);
    // After retry: 700 the base is 700 ms; the streams end at once (never
    // open for STABLE_CONNECTION_MS), so the window keeps doubling:
    // [250, 700·2^attempt) with attempt 1, 2, …
    const delays = t.statuses.filter((s) => s.delayMs !== undefined).slice(1);
    expect(delays.length).toBeGreaterThan(0);
    for (const [i, s] of delays.entries()) {
      expect(s.delayMs).toBeGreaterThanOrEqual(MIN_RETRY_DELAY_MS);
      expect(s.delayMs).toBeLessThan(700 * 2 ** (i + 1));
    }
    // Without retry: they would all be exactly the floor.
    expect(delays.some((s) => (s.delayMs ?? 0) > MIN_RETRY_DELAY_MS)).toBe(true);
  });
});
