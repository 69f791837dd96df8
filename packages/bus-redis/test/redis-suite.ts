import { afterAll, afterEach, beforeAll } from 'vitest';
import { type RedisProcess, startRedis } from './redis-server.js';

/** Something a test opened: closed after that test. */
export interface Closable {
  close(): Promise<unknown> | unknown;
}

/**
 * One redis-server for the enclosing `describe` (started before its first
 * test, stopped after its last), and `open`: what a test pushes there is
 * closed after that test, the last opened first.
 */
export function redisPerSuite(): { readonly url: string; readonly open: Closable[] } {
  let redis: RedisProcess | undefined;
  const open: Closable[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return {
    get url() {
      if (!redis) throw new Error('redis-server is not started yet: read the url inside a test');
      return redis.url;
    },
    open,
  };
}
