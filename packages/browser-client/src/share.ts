import { BoardcastError, type ClientContract, type ContractSpec } from '@boardcast/core';
import type { LinkSink, Transport } from './client.js';
import { createStateMirror } from './state-mirror.js';

/**
 * Every tab live over HTTP/1.1: the pages of one origin that talk to the
 * same server with the same credential share one connection. Browsers allow
 * six HTTP/1.1 connections per host, and every event stream holds one, so a
 * seventh tab (and any command) waited for ever.
 *
 * One tab is the leader: it holds the real connection and passes every
 * frame on over a `BroadcastChannel`; the others follow. Chosen by an
 * election over the same channel, not Web Locks: `navigator.locks` exists
 * only in secure contexts, and a device at `http://raspberrypi.local` is
 * not one. SharedWorker was the other candidate; Chromium on Android has
 * none, and a worker's connection cannot be handed to a page.
 *
 * - **Election.** The leader announces itself (`lead`, with an epoch and
 *   the successor it names: the smallest id of the tabs that said `hello`)
 *   every {@link BEAT_MS}. When its page is hidden for good, frozen or
 *   closed it says `bye`, and the named successor leads at once — a message,
 *   no timer: hidden tabs' timers are throttled to one a second. A tab that
 *   hears no leader for {@link DEAD_MS} (a crashed tab says nothing) claims;
 *   claims gathered for {@link CLAIM_MS} go to the smallest tab id, which
 *   leads with the next epoch; a live leader answers a claim and is kept. A
 *   leader that hears a newer epoch (it was frozen and woke up) steps down.
 * - **Nothing lost or doubled.** Every tab keeps the last {@link RING}
 *   frames and the state folded from them. A follower that (re)joins, or
 *   sees a new leader, says where it stands (`hello` with its last id) and
 *   ignores the channel until the leader answers with exactly the frames
 *   after that id (or, when its ring no longer reaches back, a snapshot);
 *   later frames on the channel are all newer. A new leader resumes the
 *   server stream from its own last id.
 * - **Commands.** SSE commands are HTTP requests each tab sends itself;
 *   WebSocket commands are forwarded to the leader's socket and answered
 *   back.
 */
export interface ShareOptions {
  /** Share the connection with the other tabs (default: true in a page with `BroadcastChannel`, false elsewhere). */
  readonly share?: boolean | undefined;
}

/** Leader heartbeat period (ms). */
const BEAT_MS = 200;
/** Silence after which the leader is taken for gone (ms): above the 1 s a hidden tab's timers may wait. */
const DEAD_MS = 2500;
/** How long a `bye` waits for the named successor before claiming (ms). */
const SUCCESSOR_MS = 400;
/** How long claims are gathered before the smallest id leads (ms). */
const CLAIM_MS = 50;
/** Frames each tab keeps for catch-up. */
const RING = 1000;

type Method = keyof LinkSink;
/** Every method of a transport's sink. */
const SINK_METHODS: readonly Method[] = ['open', 'snapshot', 'event', 'reset', 'server', 'retry', 'error', 'drop'];
/** One frame of the stream: the sink method and its arguments (errors as their JSON). */
type Frame = [method: Method, args: unknown[]];
type Message =
  | { t: 'who'; from: string }
  | { t: 'lead'; from: string; epoch: number; open: boolean; next?: string | undefined }
  | { t: 'claim'; from: string; epoch: number }
  | { t: 'bye'; from: string; epoch: number; next?: string | undefined }
  | { t: 'gone'; from: string }
  | { t: 'hello'; from: string; since: string | undefined }
  | { t: 'sync'; to: string; frames: Frame[]; open: boolean }
  | { t: 'f'; from: string; frame: Frame }
  | { t: 'cmd'; from: string; to: string; n: number; name: string; input: unknown; timeout: number }
  | { t: 'res'; to: string; n: number; ok: boolean; value: unknown };

/** 53-bit string hash (cyrb53): names the group without putting a token in the channel name. */
function hash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

const wire = (args: unknown[]) => args.map((a) => (a instanceof BoardcastError ? { '~error': a.toJSON() } : a));
const unwire = (args: unknown[]) =>
  args.map((a) =>
    a && typeof a === 'object' && '~error' in a ? BoardcastError.fromJSON((a as { '~error': unknown })['~error']) : a,
  );

/**
 * `transport`, shared with the other tabs that compute the same `identity`
 * (server URL, transport, events, credential); the plain transport where
 * there is nothing to share with (no `BroadcastChannel`, not a page, or
 * `share: false`).
 */
export function shareTransport<C extends ContractSpec>(
  transport: Transport,
  contract: C | ClientContract<C>,
  identity: string,
  options: ShareOptions,
): Transport {
  const page = typeof window === 'object' && typeof document === 'object';
  if (!(options.share ?? page) || typeof BroadcastChannel !== 'function') return transport;

  const me = Math.random().toString(36).slice(2) + Date.now().toString(36);
  const channel = new BroadcastChannel(`boardcast:${transport.name}:${hash(identity)}`);
  const post = (message: Message) => channel.postMessage(message);
  // What this tab has seen, in order: for catch-up and the state a late tab starts from.
  const mirror = createStateMirror<C>(contract);
  const ring: Frame[] = [];
  let position: string | undefined;
  /** The last server status frame seen. */
  let serverFrame: Frame | undefined;
  let open = false;

  let role: 'leader' | 'follower' | 'electing' = 'electing';
  let leader: string | undefined;
  let epoch = 0;
  let heard = 0;
  let claims: Set<string> | undefined;
  /** This tab's own client: its current link's sink and the last id delivered to it. */
  let local: { sink: LinkSink; at: string | undefined } | undefined;
  /** A `hello` is out: the channel is ignored until its answer. */
  let syncing = false;
  let real: (() => void) | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: BoardcastError): void }>();
  let seq = 0;
  /** Leader: the tabs that said hello. Follower: the tab the leader named to take over. */
  const followers = new Set<string>();
  let successor: string | undefined;
  const next = () => [...followers].sort()[0];
  const announce = () => post({ t: 'lead', from: me, epoch, open, next: next() });

  const record = ([method, args]: Frame) => {
    if (method === 'snapshot') {
      mirror.replace(args[0] as never);
      if (args[1]) position = args[1] as string;
    } else if (method === 'event') {
      try {
        mirror.apply(args[0] as never, args[1] as never);
      } catch {
        // The hub skipped a reducer that threw; so does every mirror.
      }
      if (args[2]) position = args[2] as string;
    } else if (method === 'open') open = true;
    else if (method === 'server') serverFrame = [method, args];
    else if (method === 'drop') open = false;
    if (method === 'snapshot' || method === 'event' || method === 'reset') {
      ring.push([method, args]);
      if (ring.length > RING) ring.shift();
    }
  };
  const idOf = ([method, args]: Frame) =>
    (method === 'event' ? args[2] : method === 'snapshot' ? args[1] : undefined) as string | null | undefined;
  const deliver = (frame: Frame) => {
    if (!local) return;
    const id = idOf(frame);
    if (id) local.at = id;
    (local.sink as unknown as Record<Method, ((...a: unknown[]) => void) | undefined>)[frame[0]]?.(...frame[1]);
  };

  /** The frames after `since` from the ring, or a snapshot of where this tab stands. */
  const catchUp = (since: string | undefined): Frame[] => {
    let at = -1;
    if (since !== undefined) {
      for (let i = ring.length - 1; i >= 0 && at < 0; i--) if (idOf(ring[i] as Frame) === since) at = i;
    }
    // The server's status (a degraded bus) first: it is not among the events.
    const head: Frame[] = serverFrame ? [serverFrame] : [];
    if (at >= 0) return [...head, ...ring.slice(at + 1)];
    const state = mirror.getSnapshot();
    return state === undefined ? head : [...head, ['snapshot', [state, position ?? null]]];
  };

  /**
   * The leader's link to the server: every frame is kept, passed on, and
   * delivered to this tab's client when it listens. Not tied to that
   * client's link, so a new leader dials at once even while its own client
   * waits out a backoff.
   */
  const leaderSink = {} as Record<Method, (...args: unknown[]) => void>;
  // A plain object, not a Proxy: transports spread the sink into their own.
  for (const method of SINK_METHODS) {
    leaderSink[method] = (...args: unknown[]) => {
      if (method === 'drop') real = undefined;
      record([method, args]);
      post({ t: 'f', from: me, frame: [method, wire(args)] });
      deliver([method, args]);
    };
  }
  const dialReal = (from: string | undefined) => {
    if (!real) real = transport.dial(from, leaderSink as unknown as LinkSink);
  };

  const hello = () => {
    if (!leader || role === 'leader') return;
    syncing = true;
    post({ t: 'hello', from: me, since: local ? local.at : position });
  };
  const follow = (id: string, newEpoch: number) => {
    const changed = leader !== id;
    if (role === 'leader' && id !== me) stepDown();
    role = 'follower';
    leader = id;
    epoch = Math.max(epoch, newEpoch);
    heard = Date.now();
    claims = undefined;
    if (changed) hello();
  };
  const lead = () => {
    role = 'leader';
    leader = me;
    epoch++;
    claims = undefined;
    syncing = false;
    announce();
    // Bring this tab's client up to where the ring is, then resume the server stream from there.
    if (local && position !== undefined && local.at !== position) for (const frame of catchUp(local.at)) deliver(frame);
    // Nothing seen yet: resume from where this tab's client stands (its `lastEventId` option).
    dialReal(position ?? local?.at);
  };
  const stepDown = () => {
    real?.();
    real = undefined;
    role = 'follower';
  };
  const claim = () => {
    if (stopped || claims) return;
    role = 'electing';
    leader = undefined;
    claims = new Set([me]);
    post({ t: 'claim', from: me, epoch });
    setTimeout(() => {
      if (!claims) return;
      const winner = [...claims].sort()[0];
      claims = undefined;
      if (winner === me) lead();
      else heard = Date.now();
    }, CLAIM_MS);
  };

  channel.onmessage = ({ data }: MessageEvent<Message>) => {
    if (stopped) return;
    switch (data.t) {
      case 'who':
        if (role === 'leader') announce();
        return;
      case 'lead':
        if (data.from === me) return;
        successor = data.next;
        if (role === 'leader' && data.epoch <= epoch) {
          // Two leaders: the newer epoch wins, ties to the smaller id.
          if (data.epoch < epoch || me < data.from) return announce();
        }
        return follow(data.from, data.epoch);
      case 'claim':
        epoch = Math.max(epoch, data.epoch);
        if (role === 'leader') return announce();
        // A newcomer that has not heard the live leader yet: the leader answers it.
        if (role === 'follower' && Date.now() - heard < DEAD_MS) return;
        claim();
        claims?.add(data.from);
        return;
      case 'bye':
        if (data.from !== leader) return;
        // The leader named who takes over: no claim round (whose timers a hidden tab may delay).
        successor = data.next ?? successor;
        if (successor === me) return lead();
        if (!successor) return claim();
        // Wait a little for the successor's announcement (it may have gone too): then claim.
        leader = undefined;
        role = 'electing';
        heard = Date.now() - DEAD_MS + SUCCESSOR_MS;
        return;
      case 'gone':
        followers.delete(data.from);
        return;
      case 'hello':
        if (role === 'leader') followers.add(data.from);
        if (role === 'leader')
          post({ t: 'sync', to: data.from, frames: catchUp(data.since).map(([m, a]) => [m, wire(a)]), open });
        return;
      case 'sync': {
        if (data.to !== me || !syncing) return;
        syncing = false;
        const frames = data.frames.map(([method, args]): Frame => [method, unwire(args)]);
        // The ring may already hold the first of them (kept while this tab's client was away).
        let known = -1;
        for (let i = frames.length - 1; i >= 0 && known < 0 && position !== undefined; i--) {
          if (idOf(frames[i] as Frame) === position) known = i;
        }
        frames.forEach((frame, i) => {
          if (i > known) record(frame);
          deliver(frame);
        });
        if (data.open) deliver(['open', []]);
        return;
      }
      case 'f': {
        if (data.from !== leader) return;
        heard = Date.now();
        // While a hello is out, its answer brings these.
        if (syncing) return;
        const frame: Frame = [data.frame[0], unwire(data.frame[1])];
        record(frame);
        deliver(frame);
        return;
      }
      case 'cmd':
        if (data.to !== me || role !== 'leader') return;
        transport.command(data.name, data.input, data.timeout).then(
          (value) => post({ t: 'res', to: data.from, n: data.n, ok: true, value }),
          (error: unknown) =>
            post({
              t: 'res',
              to: data.from,
              n: data.n,
              ok: false,
              value: (error instanceof BoardcastError
                ? error
                : new BoardcastError('handler_failed', 'failed')
              ).toJSON(),
            }),
        );
        return;
      case 'res': {
        const p = data.to === me ? pending.get(data.n) : undefined;
        if (!p) return;
        pending.delete(data.n);
        if (data.ok) p.resolve(data.value);
        else p.reject(BoardcastError.fromJSON(data.value));
      }
    }
  };

  // Leave at once when the page goes away or is frozen, so a follower takes over without waiting.
  const leave = () => {
    if (role !== 'leader') return void post({ t: 'gone', from: me });
    post({ t: 'bye', from: me, epoch, next: next() });
    followers.clear();
    stepDown();
    leader = undefined;
  };
  const onResume = () => {
    if (!stopped && role !== 'leader') post({ t: 'who', from: me });
  };
  if (page) {
    addEventListener('pagehide', leave);
    document.addEventListener('freeze', leave);
    document.addEventListener('resume', onResume);
  }

  const start = () => {
    if (timer) return;
    post({ t: 'who', from: me });
    // A live leader answers `who` at once; after 2 × CLAIM_MS of silence this tab claims.
    heard = Date.now() - DEAD_MS + 2 * CLAIM_MS;
    timer = setInterval(() => {
      if (role === 'leader') announce();
      else if (!claims && Date.now() - heard > DEAD_MS) claim();
    }, BEAT_MS);
  };

  return {
    name: transport.name,
    dial(lastEventId, sink) {
      start();
      const mine = { sink, at: lastEventId };
      local = mine;
      if (role === 'leader') {
        if (real) {
          // The link is up (this tab's client was away): catch it up from the ring.
          queueMicrotask(() => {
            if (local !== mine) return;
            if (mine.at !== position) for (const frame of catchUp(mine.at)) deliver(frame);
            if (open) deliver(['open', []]);
          });
        } else dialReal(lastEventId ?? position);
      } else if (leader) queueMicrotask(hello);
      return () => {
        if (local === mine) local = undefined;
        if (role === 'leader') {
          real?.();
          real = undefined;
        }
      };
    },
    command(name, input, timeoutMs) {
      // SSE commands are HTTP requests: every tab sends its own.
      if (transport.name === 'sse' || role === 'leader' || !leader) return transport.command(name, input, timeoutMs);
      const n = ++seq;
      const to = leader;
      return new Promise((resolve, reject) => {
        const timeout = setTimeout(() => {
          pending.delete(n);
          reject(new BoardcastError('timeout', `command timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(n, {
          resolve: (v) => {
            clearTimeout(timeout);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timeout);
            reject(e);
          },
        });
        post({ t: 'cmd', from: me, to, n, name, input, timeout: timeoutMs });
      });
    },
    stop(error) {
      leave();
      stopped = true;
      clearInterval(timer);
      for (const p of pending.values()) p.reject(error);
      pending.clear();
      if (page) {
        removeEventListener('pagehide', leave);
        document.removeEventListener('freeze', leave);
        document.removeEventListener('resume', onResume);
      }
      channel.close();
      transport.stop(error);
    },
  };
}

/**
 * What tabs must agree on to share one connection: the server (URLs as the
 * page resolves them), the event filter, and the credential the requests
 * carry (`credentials`, `headers`: a tab logged in with another token never
 * rides on someone else's rights). Cookies are the origin's, the same in
 * every tab.
 */
export function shareIdentity(url: string, options: object): string {
  const o = options as Record<string, unknown>;
  let headers = o.headers;
  try {
    if (typeof headers === 'function') headers = headers();
  } catch {
    headers = Math.random();
  }
  const base = typeof location === 'object' ? location.href : undefined;
  return JSON.stringify([
    new URL(url, base).href,
    o.events,
    o.eventsUrl,
    o.commandsUrl,
    o.wsUrl,
    o.credentials,
    headers,
    o.eventSource,
    o.maxEventSize,
  ]);
}
