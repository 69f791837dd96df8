/**
 * The backoff starts over only after a connection proved itself: open for
 * STABLE_CONNECTION_MS (mutation testing found nothing noticed when that
 * reset was removed, issue 28). Real server, real cuts; the test waits the
 * real 5 s rather than faking timers under a real socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, STABLE_CONNECTION_MS, type StatusChange } from '../src/index.js';
import { cleanups, contract, runCleanups, startHub, until } from './helpers.js';

afterEach(runCleanups);

describe('reconnect backoff', () => {
  it('grows while connections keep dropping at once, and starts over after one stayed open', async () => {
    const { server } = await startHub();
    const client = connect(server.url, contract, { transport: 'sse', reconnect: { maxDelayMs: 400 } });
    cleanups.push(() => client.close());
    const reconnects: number[] = [];
    let opens = 0;
    client.onStatus((change: StatusChange) => {
      if (change.status === 'reconnecting') reconnects.push(change.attempt);
      if (change.status === 'open') opens++;
    });
    const cutAndReopen = async () => {
      const before = opens;
      server.server.closeAllConnections();
      await until(() => expect(opens).toBeGreaterThan(before), 20_000, 'reconnected');
    };

    await until(() => expect(client.status).toBe('open'), 20_000, 'first open');
    await cutAndReopen();
    await cutAndReopen();
    // Two quick drops: the attempt count grew (the backoff window with it).
    expect(reconnects).toEqual([1, 2]);

    // Open for longer than STABLE_CONNECTION_MS: the next drop starts over.
    await new Promise((resolve) => setTimeout(resolve, STABLE_CONNECTION_MS + 1000));
    expect(client.status).toBe('open');
    await cutAndReopen();
    expect(reconnects).toEqual([1, 2, 1]);
  }, 60_000);
});
