import { afterEach, describe, expect, it, vi } from 'vitest';

// The SSE transport loads the command code (./http.js) on the first command.
// These replace that module to stand for a load that fails or never ends
// (a link that stalls while the chunk downloads): each command still settles
// with a typed error. Commands through a real server are in sse.test.ts.
afterEach(() => {
  vi.doUnmock('../src/http.js');
  vi.resetModules();
});

const options = {};

/**
 * The loader and the BoardcastError class it throws, both from the module
 * graph that sees the mock; `send` posts `{}` to the led command and tells
 * how it settled (`resolved`, or the error's code).
 */
async function load() {
  const { BoardcastError } = await import('@boardcast/core');
  const { postCommandLazily } = await import('../src/command-loader.js');
  const send = (timeoutMs: number, closed = new AbortController().signal) =>
    postCommandLazily('http://127.0.0.1:1/api/commands/led', {}, timeoutMs, options, closed).then(
      () => 'resolved',
      (e: unknown) => (e instanceof BoardcastError ? e.code : `not a BoardcastError: ${String(e)}`),
    );
  return { postCommandLazily, send };
}

describe('commands load their code on demand', () => {
  it('a load that never ends still settles within the timeout, with `timeout`', async () => {
    vi.doMock('../src/http.js', () => new Promise(() => undefined));
    const { send } = await load();
    expect(await send(50)).toBe('timeout');
  });

  it('a load that fails rejects with `network_error`', async () => {
    vi.doMock('../src/http.js', () => {
      throw new TypeError('Failed to fetch dynamically imported module');
    });
    const { send } = await load();
    expect(await send(5000)).toBe('network_error');
  });

  it('a client closed while the code loads rejects with `closed` and sends nothing', async () => {
    const postCommand = vi.fn(async () => 'sent');
    vi.doMock('../src/http.js', () => ({ postCommand }));
    const { send } = await load();
    const closed = new AbortController();
    const result = send(5000, closed.signal);
    closed.abort();
    expect(await result).toBe('closed');
    expect(postCommand).not.toHaveBeenCalled();
  });

  it('once loaded, the command is posted with the time left of its timeout', async () => {
    const postCommand = vi.fn(async (_url: string, input: unknown) => input);
    vi.doMock('../src/http.js', () => ({ postCommand }));
    const { postCommandLazily } = await load();
    const signal = new AbortController().signal;
    await expect(postCommandLazily('http://x/api/commands/led', { on: true }, 5000, options, signal)).resolves.toEqual({
      on: true,
    });
    const [url, , timeoutMs, , passed] = postCommand.mock.calls[0] as unknown as [
      string,
      unknown,
      number,
      unknown,
      AbortSignal,
    ];
    expect(url).toBe('http://x/api/commands/led');
    expect(timeoutMs).toBeGreaterThan(0);
    expect(timeoutMs).toBeLessThanOrEqual(5000);
    expect(passed).toBe(signal);
  });
});
