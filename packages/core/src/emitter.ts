/**
 * A tiny, browser-safe typed event emitter. typed-emitter only types Node's
 * `events` module, which core cannot import (it runs in browsers), so we keep
 * the same shape — `on` returns an unsubscribe function — in ~40 lines.
 *
 * The `error` event is special, as in Node: an `error` emitted while nobody
 * listens is not dropped. Node's EventEmitter throws it; this one logs it
 * (once per emit, `console.error` with the prefix `[boardcast] unhandled
 * "error" event`) and returns, because the emitter's caller is a transport
 * or a timer that must keep serving everyone else. Add an `error` listener
 * (the hub's is where every component reports) to take over the reporting.
 */
export type EventsMap = { [event: string]: (...args: never[]) => void };

export class Emitter<E extends EventsMap> {
  #listeners = new Map<keyof E, Set<E[keyof E]>>();

  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  once<K extends keyof E>(event: K, listener: E[K]): () => void {
    const wrapped = ((...args: Parameters<E[K]>) => {
      this.off(event, wrapped);
      (listener as (...a: Parameters<E[K]>) => void)(...args);
    }) as E[K];
    return this.on(event, wrapped);
  }

  off<K extends keyof E>(event: K, listener: E[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) this.#listeners.delete(event);
  }

  /**
   * Calls every listener; a throwing listener does not stop the others and
   * does not propagate into the emitter's caller (a UI callback must never
   * break a transport). Errors are reported through `onListenerError`.
   */
  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.#listeners.get(event);
    if (!set) {
      if (event === 'error') this.onUnhandledError(args);
      return;
    }
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<E[K]>) => void)(...args);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }

  listenerCount(event?: keyof E): number {
    if (event !== undefined) return this.#listeners.get(event)?.size ?? 0;
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }

  /** An `error` with no listener: logged so it is never lost (see the class comment). */
  protected onUnhandledError(args: readonly unknown[]): void {
    const [error, ...rest] = args;
    const where = rest.filter((part) => typeof part === 'string');
    console.error(
      `[boardcast] unhandled "error" event${where.length > 0 ? ` (${where.join(' ')})` : ''}; add an error listener to handle it:`,
      error,
    );
  }

  protected onListenerError(error: unknown, _event: keyof E): void {
    // Visible, but never thrown into the code that emitted.
    console.error(`[boardcast] a listener for "${String(_event)}" threw`, error);
  }
}
