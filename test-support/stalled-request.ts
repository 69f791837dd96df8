import type { Server } from 'node:http';
import { connect } from 'node:net';
import { expect, onTestFinished } from 'vitest';

/**
 * Server timeouts short enough for a test to wait out, for a server under
 * test to be started with (Node's own defaults would hold a stalled client
 * for 60 s, checked every 30 s).
 */
export const SHORT_TIMEOUTS = { headersTimeout: 500, requestTimeout: 1000, connectionsCheckingInterval: 100 } as const;

/** What a server did with a request cut short: what it answered before it closed the connection. */
export interface Stalled {
  answer: string;
}

/**
 * Sends `partial` (a request cut short: part of its headers, or of its body)
 * on a raw connection to 127.0.0.1:`port`, as a slow client would, and waits
 * until the server closes it. Call inside a test: the socket is destroyed
 * when the test ends, however it ends.
 */
export function stallRequest(port: number, partial: string): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        answer += chunk;
      });
      socket.on('close', () => resolve({ answer }));
      socket.write(partial);
    });
    onTestFinished(() => {
      socket.destroy();
    });
    // Only a failure to connect fails the call: a reset after that ends the
    // connection like a close does ('close' follows 'error'), with what came.
    socket.on('error', (error) => {
      if (socket.connecting) reject(error);
    });
  });
}

/**
 * Checks that `running.server` has {@link SHORT_TIMEOUTS} (the server's own
 * settings, not Node's defaults), then sends `partial` as a slow client would
 * and expects the server to answer 408 and close the connection. The stall
 * itself is waited for, with the test's timeout as the only bound on time.
 */
export async function expectStallAnswered408(
  running: { readonly server: Server; readonly port: number },
  partial: string,
): Promise<void> {
  expect(running.server.headersTimeout).toBe(SHORT_TIMEOUTS.headersTimeout);
  expect(running.server.requestTimeout).toBe(SHORT_TIMEOUTS.requestTimeout);
  const { answer } = await stallRequest(running.port, partial);
  expect(answer).toMatch(/^HTTP\/1\.1 408/);
}
