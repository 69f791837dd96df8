export { freePort, type RedisProcess, startRedis } from '../../../test-support/redis-server.js';
export { redisServerPath } from '../../../test-support/system.js';

/** Poll until `check` passes (returns without throwing) or the deadline passes. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
