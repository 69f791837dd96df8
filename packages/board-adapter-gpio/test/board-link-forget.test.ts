/**
 * Boards that leave are given back (issue 27: "memory after 3,000 board hello
 * ids is bounded but not given back"). The link forgets a board that left
 * `retentionMs` after it went, or earlier when a new id needs its place under
 * `maxBoards`, and says so with `forget`, so an app that made a channel for it
 * can let that go too. Here: every id is forgotten exactly once, the link's
 * `boards` is back to what it was, and no forgotten `RemoteBoard` stays
 * reachable (WeakRef + forced GC, as core's channel-log test does).
 * Agents are the strict double over real sockets on 127.0.0.1.
 */
import type { Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { attachBoardLink, type BoardLink, type BoardLinkOptions, type RemoteBoard } from '../src/index.js';
import { closeServer, listen, newServer, waitFor } from './helpers.js';
import { BoardDouble } from './remote-double.js';

const TOKEN = 'forget-token';

interface Rig {
  readonly link: BoardLink;
  readonly port: number;
  readonly server: Server;
  /** Ids in the order `forget` named them. */
  readonly forgotten: string[];
  /** Every board the link handed to `connect`, weakly. */
  readonly refs: WeakRef<RemoteBoard>[];
}

const rigs: Rig[] = [];

afterEach(async () => {
  for (const rig of rigs.splice(0)) {
    await rig.link.close();
    await closeServer(rig.server);
  }
});

async function startLink(options: Partial<BoardLinkOptions>): Promise<Rig> {
  const server = newServer();
  const link = attachBoardLink(server, { token: TOKEN, heartbeatMs: 60_000, ...options });
  const forgotten: string[] = [];
  const refs: WeakRef<RemoteBoard>[] = [];
  link.on('forget', (board) => forgotten.push(board.id));
  link.on('connect', (board) => remember(refs, board));
  const rig = { link, port: await listen(server), server, forgotten, refs };
  rigs.push(rig);
  return rig;
}

/** A plain function, so the board is not kept alive by an async function's frame. */
function remember(refs: WeakRef<RemoteBoard>[], board: RemoteBoard): void {
  if (!refs.some((ref) => ref.deref() === board)) refs.push(new WeakRef(board));
}

/** An agent says hello, comes online (its snapshot answered), and leaves. */
async function visit(rig: Rig, id: string): Promise<void> {
  const agent = new BoardDouble({ port: rig.port, token: TOKEN, id, heartbeatMs: 60_000 });
  await agent.opened;
  await waitFor(() => rig.link.boards.find((b) => b.id === id)?.status === 'online', `${id} online`, 20_000);
  agent.close();
  await agent.closed;
  await waitFor(() => rig.link.boards.find((b) => b.id === id)?.status !== 'online', `${id} offline`, 20_000);
}

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('BoardLink gives back the boards it forgets', { timeout: 120_000 }, () => {
  it('after retentionMs: forget once per id, boards back to baseline, every forgotten board collectable', async () => {
    const rig = await startLink({ retentionMs: 300, maxBoards: 100 });
    const pinned = rig.link.board('kept');
    const ids = Array.from({ length: 40 }, (_, i) => `visitor-${i}`);
    // Five at a time, as a fleet that churns.
    for (let i = 0; i < ids.length; i += 5) await Promise.all(ids.slice(i, i + 5).map((id) => visit(rig, id)));
    await waitFor(() => rig.forgotten.length === ids.length, 'every visitor forgotten', 30_000);
    expect([...rig.forgotten].sort()).toEqual([...ids].sort());
    expect(rig.link.boards).toEqual([pinned]);
    expect(rig.link.connectionCount).toBe(0);
    expect(rig.refs).toHaveLength(ids.length);

    const gc = collectGarbage();
    // WeakRef targets stay alive until the job that last read them ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const alive = rig.refs.map((ref) => ref.deref()?.id).filter((id) => id !== undefined);
    expect(alive).toEqual([]);
    // A pinned board is never forgotten.
    expect(rig.forgotten).not.toContain('kept');
  });

  it('under maxBoards: the board that left longest ago is forgotten for a new id, with forget, oldest first', async () => {
    const rig = await startLink({ retentionMs: 600_000, maxBoards: 3 });
    rig.link.board('kept'); // counts against maxBoards, never evicted
    await visit(rig, 'flood-0');
    const first = rig.link.boards.find((b) => b.id === 'flood-0');
    for (let i = 1; i < 6; i++) await visit(rig, `flood-${i}`);
    expect(rig.forgotten).toEqual(['flood-0', 'flood-1', 'flood-2', 'flood-3']);
    expect(rig.link.boards.map((b) => b.id).sort()).toEqual(['flood-4', 'flood-5', 'kept']);
    // Back again after it was forgotten: a new board object (a new `connect`), and the next-oldest goes.
    await visit(rig, 'flood-0');
    const again = rig.link.boards.find((b) => b.id === 'flood-0');
    expect(again).toBeDefined();
    expect(again).not.toBe(first);
    expect(rig.forgotten).toEqual(['flood-0', 'flood-1', 'flood-2', 'flood-3', 'flood-4']);
  });

  it('a retentionMs past what a timer can hold is refused, not turned into "forget at once"', () => {
    const server = newServer();
    // Node runs a setTimeout longer than 2^31 - 1 ms after 1 ms: 30 days would forget every board at once.
    expect(() => attachBoardLink(server, { token: TOKEN, retentionMs: 30 * 24 * 3600 * 1000 })).toThrow(RangeError);
    expect(() => attachBoardLink(server, { token: TOKEN, retentionMs: -1 })).toThrow(RangeError);
    const link = attachBoardLink(server, { token: TOKEN, retentionMs: 2_147_483_647 });
    void link.close();
  });
});
