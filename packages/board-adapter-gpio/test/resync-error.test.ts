/**
 * A board that answers the resync (`snapshot`) request with a malformed
 * error: before, every connection printed an 11-line "unhandled error" stack
 * (the RemoteBoard's `error` event with nobody listening). The board's bad
 * answer is the board's fault, not the server's: it ends that connection
 * with a reason that says what went wrong — one `disconnect` line — and
 * nothing goes to the console.
 */
import type { Server } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { attachBoardLink, type BoardLink } from '../src/index.js';
import { closeServer, listen, newServer, waitFor } from './helpers.js';
import { framesOf, rawBoardSocket } from './remote-double.js';

const TOKEN = 'resync-token';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function rig(): Promise<{ server: Server; link: BoardLink; port: number; disconnects: string[] }> {
  const server = newServer();
  const link = attachBoardLink(server, { token: TOKEN, heartbeatMs: 1000 });
  const port = await listen(server);
  const disconnects: string[] = [];
  link.on('disconnect', (board, reason) => disconnects.push(`${board.id}: ${reason}`));
  cleanups.push(async () => {
    await link.close();
    await closeServer(server);
  });
  return { server, link, port, disconnects };
}

describe('resync answered with a malformed error', () => {
  it.each([
    ['a string', '"boom"'],
    ['null', 'null'],
    ['an unknown code', '{"code":"nope","message":"x"}'],
    ['a number message', '{"code":"busy","message":42}'],
  ])('error as %s: the connection ends with one reason, nothing on the console', async (_name, error) => {
    const { port, disconnects } = await rig();
    const printed: unknown[][] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args));
    vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void printed.push(args));
    for (let n = 0; n < 3; n++) {
      const ws = rawBoardSocket(port, TOKEN, (fn) => cleanups.push(fn));
      const frames = framesOf(ws);
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send(
        JSON.stringify({ type: 'hello', id: 'bad', firmware: 'x', pins: [{ pin: 5, modes: ['output'] }], sensors: [] }),
      );
      const request = await waitFor(() => frames.find((f) => f.type === 'snapshot'), 'the resync request');
      ws.send(`{"type":"result","id":${String(request.id)},"ok":false,"error":${error}}`);
      const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
      );
      expect(closed.code).toBe(1011);
      expect(closed.reason).toMatch(/^resync failed: /);
    }
    await waitFor(() => disconnects.length === 3, 'three disconnects');
    for (const line of disconnects) expect(line).toMatch(/^bad: resync failed: /);
    expect(printed).toEqual([]);
  });
});
