import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeServerFrame, WS_PROTOCOL } from '@boardcast/core/wire';
import { build } from 'esbuild';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sourceAliases } from '../../../scripts/workspace-sources.mjs';
import { type Instance, instance, recorder } from './fixtures.js';
import { eventually, type RedisProcess, redisServerPath, startRedis } from './redis-server.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * Bundle the child instance from sources (no package build needed): Node 20
 * cannot run TypeScript itself and no TS runner is installed, so esbuild
 * turns test/child/instance.ts and the sources it imports into one file.
 */
async function bundleChild(outdir: string): Promise<string> {
  const outfile = join(outdir, 'instance.cjs');
  await build({
    entryPoints: [join(here, 'child', 'instance.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'silent',
    // Optional native speed-ups that ws requires inside try/catch.
    external: ['bufferutil', 'utf-8-validate'],
    alias: sourceAliases,
  });
  return outfile;
}

type ChildMessage = { type: 'ready'; port: number; pid: number } | { type: 'published'; id: string };

describe.skipIf(!redisServerPath)('a second instance in a real child process', () => {
  let redis: RedisProcess;
  let dir: string;
  let child: ChildProcess;
  let childPort = 0;
  let childPid = 0;
  let a: Instance;
  const messages: ChildMessage[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'boardcast-child-'));
    const file = await bundleChild(dir);
    child = fork(file, [], {
      env: { ...process.env, REDIS_URL: redis.url, BOARD: 'child-board' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (m: ChildMessage) => messages.push(m));
    const ready = await eventually(() => {
      const m = messages.find((x) => x.type === 'ready');
      if (m?.type !== 'ready') throw new Error('child not ready');
      return m;
    }, 20_000);
    childPort = ready.port;
    childPid = ready.pid;
    a = await instance(redis.url);
  });

  afterAll(async () => {
    await a?.hub.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    await redis?.stop();
  });

  it('events published in either process reach the other process’s SSE and WS clients with one id', async () => {
    expect(childPid).not.toBe(process.pid);
    const lines: string[] = [];
    const source = new EventSource(`http://127.0.0.1:${childPort}/events`);
    // Listen for the snapshots before waiting for anything: one that arrived while this test waited
    // for another would never be seen again (the test hung when the SSE snapshot beat the WS open).
    const sseSnapshot = new Promise((resolve) => source.addEventListener('snapshot', resolve, { once: true }));
    source.addEventListener('tick', (e) => lines.push(`sse ${e.data} ${e.lastEventId}`));
    const socket = new WebSocket(`ws://127.0.0.1:${childPort}/ws`, WS_PROTOCOL);
    let wsSnapshot!: () => void;
    const wsSnapshotSeen = new Promise<void>((resolve) => {
      wsSnapshot = resolve;
    });
    socket.on('message', (raw) => {
      const frame = decodeServerFrame(String(raw));
      if (frame.type === 'snapshot') wsSnapshot();
      if (frame.type === 'event') lines.push(`ws ${JSON.stringify(frame.data)} ${frame.id}`);
    });
    const onA = recorder();
    a.hub.attach({}, onA.sink);
    try {
      // Both clients subscribed (their snapshots are in) before anything is published.
      await Promise.all([sseSnapshot, wsSnapshotSeen]);
      const fromA = await a.hub.publish('tick', 1);
      child.send({ type: 'publish', value: 2 });
      const fromChild = await eventually(() => {
        const m = messages.find((x) => x.type === 'published');
        if (m?.type !== 'published') throw new Error('not yet');
        return m.id;
      });
      await eventually(() =>
        expect(lines.sort()).toEqual([`sse 1 ${fromA}`, `sse 2 ${fromChild}`, `ws 1 ${fromA}`, `ws 2 ${fromChild}`]),
      );
      await eventually(() => expect(onA.ids).toEqual([fromA, fromChild]));

      // The browser moves from the child to A with its last id.
      const moved = recorder();
      a.hub.attach({ lastEventId: fromA }, moved.sink);
      await eventually(() => expect(moved.ids).toEqual([fromChild]));
    } finally {
      source.close();
      socket.terminate();
    }
  });

  it('a command on A for the board attached to the child process returns the child’s result', async () => {
    const router = a.bus.routeCommands(a.hub, { owns: () => false });
    router.forward('led');
    await router.ready;
    expect(await a.hub.call('led', { board: 'child-board', state: 'on' })).toEqual({
      board: 'child-board',
      on: true,
      by: `pid ${childPid}`,
    });
    const offline = await a.hub.dispatch('led', { board: 'elsewhere', state: 'on' });
    expect(!offline.ok && offline.error.code).toBe('board_offline');
    await router.close();
  });
});
