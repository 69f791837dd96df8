import { describe, expect, it, vi } from 'vitest';
import { BoardcastError, createHub } from '../src/index.js';
import type { EncodedEvent, EncodedSnapshot, HubSink } from '../src/wire.js';
import { initialState, ledContract } from './fixtures.js';

function recorder() {
  const log: string[] = [];
  const sink: HubSink = {
    snapshot: (s: EncodedSnapshot) => log.push(`snapshot:${s.json}@${s.headId ?? '-'}`),
    event: (e: EncodedEvent) => log.push(`${e.event}:${e.json}@${e.id}`),
    reset: (reason) => log.push(`reset:${reason}`),
  };
  return { log, sink };
}

function makeHub(history = 100) {
  const hub = createHub(ledContract, { state: initialState, history });
  hub.handle('led', ({ state }) => {
    const on = state === 'toggle' ? !hub.state.led.on : state === 'on';
    hub.setState((s) => ({ ...s, led: { on } }));
    hub.publish('led', { on });
    return { on };
  });
  return hub;
}

describe('Hub publish and attach', () => {
  it('sends the snapshot first, then live events, serialized once', async () => {
    const hub = makeHub();
    const a = recorder();
    const b = recorder();
    hub.attach({}, a.sink);
    hub.attach({}, b.sink);
    const id = await hub.publish('time', '12:00');
    expect(a.log).toEqual([
      `snapshot:{"led":{"on":false},"inputs":{"button":0}}@${hub.bus.originId}`,
      `time:"12:00"@${id}`,
    ]);
    expect(b.log).toEqual(a.log);
    // Both clients got the very same frame string object.
    const frames: string[] = [];
    hub.attach({}, { snapshot() {}, reset() {}, event: (e) => frames.push(e.sse) });
    hub.attach({}, { snapshot() {}, reset() {}, event: (e) => frames.push(e.sse) });
    await hub.publish('led', { on: true });
    expect(frames[0]).toBe(frames[1]);
    expect(frames[0]).toMatch(/^id: .+\nevent: led\ndata: {"on":true}\n\n$/);
  });

  it('resumes with exactly the missed events, and filters by name', async () => {
    const hub = makeHub();
    const first = await hub.publish('time', 't1');
    await hub.publish('led', { on: true });
    await hub.publish('time', 't2');
    const r = recorder();
    hub.attach({ lastEventId: first, events: new Set(['time']) }, r.sink);
    await hub.publish('led', { on: false });
    await hub.publish('time', 't3');
    expect(r.log.map((l) => l.split('@')[0])).toEqual(['time:"t2"', 'time:"t3"']);
  });

  it('sends reset then a fresh snapshot carrying the head id when history is exceeded', async () => {
    const hub = makeHub(2);
    const first = await hub.publish('time', 't1');
    await hub.publish('time', 't2');
    await hub.publish('time', 't3');
    const head = await hub.publish('time', 't4');
    const r = recorder();
    hub.attach({ lastEventId: first }, r.sink);
    expect(r.log).toEqual(['reset:history', `snapshot:${JSON.stringify(initialState)}@${head}`]);
  });

  it('works with an asynchronous bus: nothing lost or duplicated while since() is pending', async () => {
    const hub = makeHub();
    const first = await hub.publish('time', 'a');
    await hub.publish('time', 'b');
    const realSince = hub.bus.since.bind(hub.bus);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Answer since() late, after more events were published.
    vi.spyOn(hub.bus, 'since').mockImplementation((lastId: string) => gate.then(() => realSince(lastId)));
    const r = recorder();
    hub.attach({ lastEventId: first }, r.sink);
    await hub.publish('time', 'c');
    release();
    await gate;
    await new Promise((resolve) => setTimeout(resolve, 0));
    await hub.publish('time', 'd');
    expect(r.log.map((l) => l.split('@')[0])).toEqual(['time:"b"', 'time:"c"', 'time:"d"']);
  });

  it('a throwing sink does not stop other clients', async () => {
    const hub = makeHub();
    const errors: string[] = [];
    hub.on('error', (_e, where) => errors.push(where));
    hub.attach(
      {},
      {
        snapshot() {},
        reset() {},
        event() {
          throw new Error('socket gone');
        },
      },
    );
    const r = recorder();
    hub.attach({}, r.sink);
    await hub.publish('time', 'x');
    expect(r.log).toHaveLength(2);
    expect(errors).toEqual(['sink']);
  });

  it('detach removes the subscription', () => {
    const hub = makeHub();
    const detach = hub.attach({}, recorder().sink);
    expect(hub.subscriberCount).toBe(1);
    detach();
    detach();
    expect(hub.subscriberCount).toBe(0);
  });

  it('rejects unknown events and unserializable payloads at runtime', async () => {
    const hub = makeHub();
    await expect(hub.publish('nope' as 'time', 'x')).rejects.toMatchObject({ code: 'invalid_payload' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(hub.publish('time', cyclic as unknown as string)).rejects.toMatchObject({ code: 'invalid_payload' });
  });
});

describe('Hub commands', () => {
  it('validates with zod and runs the handler', async () => {
    const hub = makeHub();
    const result = await hub.dispatch('led', { state: 'on' }, { transport: 'http' });
    expect(result).toEqual({ ok: true, data: { on: true }, json: '{"on":true}' });
    expect(hub.state.led.on).toBe(true);
    const bad = await hub.dispatch('led', { state: 'dim' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toBeInstanceOf(BoardcastError);
      expect(bad.error.code).toBe('invalid_payload');
      expect(bad.error.message).toMatch(/state/);
      expect(bad.error.status).toBe(400);
    }
  });

  it('validates with valibot, including the result', async () => {
    const hub = makeHub();
    hub.handle('blink', ({ times }) => ({ done: times > 0 }));
    expect(await hub.call('blink', { times: 3 })).toEqual({ done: true });
    const bad = await hub.dispatch('blink', { times: 11 });
    expect(!bad.ok && bad.error.code).toBe('invalid_payload');
    expect(!bad.ok && bad.error.message).toMatch(/times/);
  });

  it('maps unknown commands, missing handlers, crashes and timeouts to stable codes', async () => {
    const hub = makeHub();
    const errors: unknown[] = [];
    hub.on('error', (error) => errors.push(error));
    const unknown = await hub.dispatch('nope', {});
    expect(!unknown.ok && unknown.error.code).toBe('unknown_command');
    const noHandler = await hub.dispatch('blink', { times: 1 });
    expect(!noHandler.ok && noHandler.error.code).toBe('unknown_command');
    const proto = await hub.dispatch('__proto__', {});
    expect(!proto.ok && proto.error.code).toBe('unknown_command');

    hub.handle('blink', () => {
      throw new Error('secret internal detail');
    });
    const crashed = await hub.dispatch('blink', { times: 1 });
    expect(!crashed.ok && crashed.error.code).toBe('handler_failed');
    expect(!crashed.ok && crashed.error.message).not.toMatch(/secret/);
    expect(errors).toHaveLength(1);

    let aborted = false;
    hub.handle(
      'slow',
      (_input, ctx) =>
        new Promise<string>((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
          });
          setTimeout(() => resolve('late'), 200);
        }),
      { timeoutMs: 20 },
    );
    const slow = await hub.dispatch('slow', null);
    expect(!slow.ok && slow.error.code).toBe('timeout');
    expect(!slow.ok && slow.error.status).toBe(504);
    expect(aborted).toBe(true);
  });

  it('passes BoardcastErrors from handlers through unchanged', async () => {
    const hub = makeHub();
    hub.handle('slow', () => {
      throw new BoardcastError('board_offline', 'board "esp32" is offline');
    });
    const r = await hub.dispatch('slow', null);
    expect(!r.ok && r.error.toJSON()).toEqual({ code: 'board_offline', message: 'board "esp32" is offline' });
  });

  it('emits one command log per dispatch', async () => {
    const hub = makeHub();
    const logs: unknown[] = [];
    hub.on('command', (log) => logs.push(log));
    await hub.dispatch('led', { state: 'toggle' }, { transport: 'ws', clientId: 'c1' });
    expect(logs).toEqual([
      expect.objectContaining({ command: 'led', ok: true, transport: 'ws', clientId: 'c1', code: undefined }),
    ]);
  });

  it('refuses a second handler and handlers for commands outside the contract', () => {
    const hub = makeHub();
    expect(() => hub.handle('led', () => ({ on: true }))).toThrow(/already/);
    expect(() => hub.handle('zzz' as 'led', () => ({ on: true }))).toThrow(BoardcastError);
  });

  it('close aborts in-flight commands and stops delivery', async () => {
    const hub = makeHub();
    hub.handle('slow', () => new Promise<string>(() => undefined), { timeoutMs: 10_000 });
    const pending = hub.dispatch('slow', null);
    await hub.close();
    const r = await pending;
    expect(!r.ok && r.error.code).toBe('closed');
    await expect(hub.publish('time', 'x')).rejects.toMatchObject({ code: 'closed' });
  });
});

describe('BoardcastError', () => {
  it('maps codes to HTTP statuses and close codes and round-trips JSON', () => {
    const e = new BoardcastError('payload_too_large', 'too big');
    expect([e.status, e.closeCode]).toEqual([413, 1009]);
    expect(e.toBody()).toEqual({ error: { code: 'payload_too_large', message: 'too big' } });
    expect(BoardcastError.fromJSON(e.toJSON())).toMatchObject({ code: 'payload_too_large', message: 'too big' });
    expect(BoardcastError.fromJSON({ code: 'from_the_future', message: 'x' }).code).toBe('handler_failed');
    expect(BoardcastError.fromJSON(42).code).toBe('handler_failed');
  });
});
