/** What a test opened and must end: a stream, endpoint, hub or server (`close()`), or a raw socket or response (`destroy()`). */
export type Endable = { close(): unknown } | { destroy(): unknown };

/**
 * Ends each of `things` in the order given, awaiting each: the clients
 * first, then the endpoint, its hub and last the server. What a test never
 * opened (`undefined`) is skipped. For an `afterEach` over the handles a
 * test file keeps at module level.
 */
export async function endAll(...things: (Endable | undefined)[]): Promise<void> {
  for (const thing of things) {
    if (thing === undefined) continue;
    await ('close' in thing ? thing.close() : thing.destroy());
  }
}
