/**
 * `--trust-proxy` (FleetOptions.trustProxy) over real sockets: connections
 * from 127.0.0.1 play nginx in front, connections bound to 127.0.0.2 play a
 * client that is not a proxy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type StatusAndCodeOptions, statusAndCode } from '../../../test-support/status-and-code.js';
import type { Fleet, FleetOptions } from '../src/server.js';
import { parseUsers } from '../src/users.js';
import { startTestFleet } from './helpers.js';

let fleet: Fleet | undefined;
const lines: string[] = [];

afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
  lines.length = 0;
});

async function start(options: FleetOptions): Promise<void> {
  fleet = await startTestFleet({
    boards: 1,
    allowedHosts: ['fleet.example.com'],
    users: parseUsers({ users: { alice: { token: 'alice-secret-token', see: ['*'], control: ['*'] } } }),
    log: (line) => lines.push(line),
    ...options,
  });
}

/** A request over a connection of its own (from `localAddress` when given); resolves with the status and error code. */
const send = (path: string, headers: Record<string, string>, options: StatusAndCodeOptions = {}) =>
  statusAndCode(fleet?.port, path, headers, options);

const viaProxy = (client: string) => ({
  'X-Forwarded-For': client,
  'X-Forwarded-Host': 'fleet.example.com',
  'X-Forwarded-Proto': 'https',
});
const wrong = { Authorization: 'Bearer not-the-token' };
const alice = { Authorization: 'Bearer alice-secret-token' };

/** Wrong tokens for `/api/me` with `headers` until one is throttled (429); false when none is within 12. */
async function guessUntilThrottled(headers: Record<string, string>, localAddress?: string): Promise<boolean> {
  for (let i = 0; i < 12; i++) {
    const { status } = await send('/api/me', { ...wrong, ...headers }, { localAddress });
    if (status === 429) return true;
    expect(status).toBe(401);
  }
  return false;
}

describe('fleet behind a reverse proxy (trustProxy)', () => {
  it('wrong-token throttling is per viewer behind the proxy: one guesser does not lock the others out', async () => {
    await start({ trustProxy: ['127.0.0.1'] });
    expect(await guessUntilThrottled(viaProxy('198.51.100.66'))).toBe(true);
    // Another viewer through the same proxy is not throttled: its right token works at once.
    expect((await send('/api/me', { ...alice, ...viaProxy('198.51.100.7') })).status).toBe(200);
    // The log names the guesser, not the proxy.
    expect(lines.some((l) => l.startsWith('auth throttled: wrong tokens from 198.51.100.66'))).toBe(true);
    expect(lines.some((l) => l.startsWith('auth throttled: wrong tokens from 127.0.0.1'))).toBe(false);
  });

  it('a client that is not a proxy cannot dodge throttling by claiming other addresses', async () => {
    await start({ trustProxy: ['127.0.0.1'] });
    let throttled = false;
    for (let i = 0; i < 12 && !throttled; i++) {
      const { status } = await send(
        '/api/me',
        { ...wrong, 'X-Forwarded-For': `203.0.113.${i + 1}` },
        { localAddress: '127.0.0.2' },
      );
      throttled = status === 429;
    }
    expect(throttled).toBe(true);
    expect(lines.some((l) => l.startsWith('auth throttled: wrong tokens from 127.0.0.2'))).toBe(true);
  });

  it("a command from the page's public origin passes through the proxy, and only there", async () => {
    await start({ trustProxy: ['127.0.0.1'] });
    const command = (headers: Record<string, string>, localAddress?: string) =>
      send(
        '/api/commands/led?channel=board-1',
        { ...alice, 'Content-Type': 'application/json', Origin: 'https://fleet.example.com', ...headers },
        { method: 'POST', body: '{"state":"on"}', localAddress },
      );
    expect(await command(viaProxy('198.51.100.7'))).toEqual({ status: 200, code: undefined });
    expect(await command(viaProxy('198.51.100.7'), '127.0.0.2')).toEqual({ status: 403, code: 'forbidden_origin' });
    // A trusted proxy forwarding a host nobody allowed is refused by the Host guard.
    expect(await send('/', { ...viaProxy('198.51.100.7'), 'X-Forwarded-Host': 'rebind.example' })).toEqual({
      status: 403,
      code: 'forbidden_host',
    });
  });

  it('without trustProxy (the default) every viewer behind the proxy is the proxy', async () => {
    await start({});
    expect(await guessUntilThrottled(viaProxy('198.51.100.66'))).toBe(true);
    // Everyone behind the proxy shares the proxy's address: the next viewer is throttled too.
    expect((await send('/api/me', { ...alice, ...viaProxy('198.51.100.7') })).status).toBe(429);
    expect(
      (
        await send(
          '/api/commands/led?channel=board-1',
          { ...alice, 'Content-Type': 'application/json', Origin: 'https://fleet.example.com' },
          { method: 'POST', body: '{"state":"on"}' },
        )
      ).code,
    ).toBe('forbidden_origin');
  });
});
