import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, makeHub, setup, TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

describe('commands', () => {
  it('answers a command with a result of the same id, and publishes its effect', async () => {
    const { url } = await setup();
    const client = await TestClient.open(url);
    client.send({ type: 'command', id: 7, command: 'led', data: { state: 'on' } });
    expect(await client.result(7)).toEqual({ type: 'result', id: 7, ok: true, data: { on: true } });
    const event = await client.next((f) => f.type === 'event');
    expect(event).toMatchObject({ event: 'led', data: { on: true } });
  });

  it('passes transport, client id and auth to handlers', async () => {
    const { url } = await setup({ authorize: () => ({ user: 'ada' }) });
    const client = await TestClient.open(url);
    client.send({ type: 'command', id: 'w', command: 'whoami', data: null });
    expect((await client.result('w')).data).toEqual({ auth: { user: 'ada' }, clientId: 'ws-1', transport: 'ws' });
  });

  it('answers bad commands with typed error results and keeps the socket open', async () => {
    const { url } = await setup();
    const client = await TestClient.open(url);
    client.send({ type: 'command', id: 1, command: 'nope', data: null });
    client.send({ type: 'command', id: 2, command: 'led', data: { state: 'dim' } });
    client.send({ type: 'command', id: 3, command: 'crash', data: null });
    client.send({ type: 'command', id: 4 }); // no command name
    client.send({ type: 'launch', id: 5 }); // unknown type, id known
    expect((await client.result(1)).error.code).toBe('unknown_command');
    expect((await client.result(2)).error.code).toBe('invalid_payload');
    const crash = await client.result(3);
    expect(crash.error).toEqual({ code: 'handler_failed', message: 'command "crash" failed' });
    expect((await client.result(4)).error.code).toBe('invalid_payload');
    expect((await client.result(5)).error.message).toContain('unknown frame type "launch"');
    client.send({ type: 'command', id: 6, command: 'led', data: { state: 'toggle' } });
    expect((await client.result(6)).ok).toBe(true);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('answers the app-level ping with a pong of the same id', async () => {
    const { url } = await setup();
    const client = await TestClient.open(url);
    client.send({ type: 'ping', id: 'hb-1' });
    client.send({ type: 'ping' });
    expect(await client.next((f) => f.type === 'pong' && f.id === 'hb-1')).toEqual({ type: 'pong', id: 'hb-1' });
    await client.next((f) => f.type === 'pong' && f.id === undefined);
  });

  it('answers a command that outlives its timeout with a timeout result', async () => {
    const { url } = await setup({}, makeHub({ commandTimeoutMs: 100 }));
    const client = await TestClient.open(url);
    client.send({ type: 'command', id: 'h', command: 'hang', data: null });
    const result = await client.result('h');
    expect(result.ok).toBe(false);
    expect(result.error.code).toBe('timeout');
  });

  it('limits commands in flight per connection, and not across connections', async () => {
    const { url } = await setup({ maxInFlight: 2 });
    const client = await TestClient.open(url);
    const other = await TestClient.open(url);
    client.send({ type: 'command', id: 1, command: 'wait', data: { ms: 300 } });
    client.send({ type: 'command', id: 2, command: 'wait', data: { ms: 300 } });
    client.send({ type: 'command', id: 3, command: 'wait', data: { ms: 0 } });
    other.send({ type: 'command', id: 1, command: 'wait', data: { ms: 0 } });
    const third = await client.result(3);
    expect(third.error.code).toBe('too_many_requests');
    expect((await other.result(1)).data).toBe('waited 0');
    expect((await client.result(1)).data).toBe('waited 300');
    expect((await client.result(2)).data).toBe('waited 300');
    // Slots are free again once results are out.
    client.send({ type: 'command', id: 4, command: 'wait', data: { ms: 0 } });
    expect((await client.result(4)).ok).toBe(true);
  });

  it('refuses a second command with an id that is still in flight', async () => {
    const { url } = await setup();
    const client = await TestClient.open(url);
    client.send({ type: 'command', id: 'x', command: 'wait', data: { ms: 200 } });
    client.send({ type: 'command', id: 'x', command: 'wait', data: { ms: 0 } });
    const first = await client.next((f) => f.type === 'result' && f.id === 'x');
    expect(first.error.code).toBe('invalid_payload');
    expect(first.error.message).toContain('already in flight');
    await client.next((f) => f.type === 'result' && f.id === 'x' && f.ok === true);
  });
});

describe('malformed frames', () => {
  const cases: Array<[string, string, number]> = [
    ['invalid JSON', '{"type":"command",', 1007],
    ['a non-object', '[1,2,3]', 1007],
    ['a command without an id', JSON.stringify({ type: 'command', command: 'led', data: {} }), 1007],
    ['an unknown type without an id', JSON.stringify({ type: 'subscribe' }), 1007],
    ['a prototype-polluting key', '{"type":"ping","__proto__":{}}', 1007],
  ];
  for (const [name, text, code] of cases) {
    it(`closes with ${code} and a reason on ${name}, after an error frame`, async () => {
      const { url, endpoint } = await setup();
      const reasons: string[] = [];
      endpoint.on('disconnect', (_client, why) => reasons.push(why.cause));
      const client = await TestClient.open(url);
      const bystander = await TestClient.open(url);
      client.send(text);
      const closed = await client.closed;
      expect(closed.code).toBe(code);
      expect(closed.reason.length).toBeGreaterThan(0);
      const error = client.frames.find((f) => f.type === 'error');
      expect(error?.error.code).toBe('invalid_payload');
      await waitFor(() => reasons.length === 1, 'disconnect');
      expect(reasons).toEqual(['protocol']);
      // Everyone else is still served.
      bystander.send({ type: 'ping', id: 1 });
      await bystander.next((f) => f.type === 'pong');
    });
  }

  it('refuses binary frames with 1003 and a clear error', async () => {
    const { url } = await setup();
    const client = await TestClient.open(url);
    client.ws.send(Buffer.from(JSON.stringify({ type: 'ping' })));
    const closed = await client.closed;
    expect(closed.code).toBe(1003);
    expect(closed.reason).toContain('binary frames are not supported');
    expect(client.frames.find((f) => f.type === 'error')?.error.code).toBe('unsupported_media_type');
  });

  it('closes with 1009 on a frame over maxPayload, down to 256 bytes', async () => {
    const { url, endpoint } = await setup({ maxPayload: 256 });
    const causes: string[] = [];
    endpoint.on('disconnect', (_client, why) => causes.push(`${why.cause}:${why.code}`));
    const client = await TestClient.open(url);
    const ok = { type: 'command', id: 1, command: 'led', data: { state: 'on', pad: 'x'.repeat(150) } };
    client.send(ok);
    expect((await client.result(1)).ok).toBe(true);
    client.send({ type: 'command', id: 2, command: 'led', data: { state: 'on', pad: 'x'.repeat(300) } });
    expect((await client.closed).code).toBe(1009);
    await waitFor(() => causes.length === 1, 'disconnect');
    expect(causes).toEqual(['protocol:1009']);
  });

  it('rejects a maxPayload below 256 bytes at construction', async () => {
    await expect(setup({ maxPayload: 255 })).rejects.toThrow(RangeError);
  });
});
