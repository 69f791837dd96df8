// biome-ignore lint/suspicious/noExplicitAny: listeners of any arity are stored side by side
export type Listener = (...args: any[]) => void;

/**
 * Call every listener with `args`, on a copy (a listener may unsubscribe
 * itself); a throwing UI callback is logged and never stops the others or
 * the connection. Shared by the client and the state mirror.
 */
export function callAll(listeners: Iterable<Listener> | undefined, args: unknown[]): void {
  for (const listener of [...(listeners ?? [])]) {
    try {
      listener(...args);
    } catch (error) {
      console.error('[boardcast] a listener threw', error);
    }
  }
}
