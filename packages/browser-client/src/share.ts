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

/** A sink method's name: {@link LinkSink}'s, or a channel sink's (`channelEvent`, …). */
export type Method = string;
/** Every method of a single-stream transport's sink. */
const SINK_METHODS: readonly Method[] = ['open', 'snapshot', 'event', 'reset', 'server', 'retry', 'error', 'drop'];
/** One frame of the stream: the sink method and its arguments (errors as their JSON). */
export type Frame = [method: Method, args: unknown[]];

/**
 * What the frames of the shared stream mean: the single stream's events
 * (below), or a channel set's (share-channels.ts). Every tab records every
 * frame, so any of them can lead next and catch the others up.
 */
export interface ShareModel {
  /** The sink methods the shared connection reports frames on (besides `open`, `server`, `retry`, `error`, `drop`). */
  readonly methods: readonly Method[];
  /** Newest id recorded: where the shared connection resumes from. */
  readonly position: string | undefined;
  /** Fold a frame of the shared stream into what this tab keeps. */
  record(frame: Frame): void;
  /** The id a frame moves the stream to (`undefined`/`null`: none). */
  idOf(frame: Frame): string | null | undefined;
  /**
   * The frames that bring a tab standing at `since` to this tab's position,
   * for what it asks (`want`). A method written `~method` is recorded by that
   * tab but not passed to its client (events a snapshot after them covers).
   */
  catchUp(since: string | undefined, want: unknown): Frame[];
  /** Whether a tab's own client, which asked for `want`, takes `frame`. No side effects: see {@link delivered}. */
  accepts?(frame: Frame, want: unknown): boolean;
  /** `frame` is being handed to this tab's client, which asked for `want` (it passed {@link accepts}). */
  delivered?(frame: Frame, want: unknown): void;
  /**
   * What this tab's `want` (from its client's last dial) means now: a
   * channel the client has started since is no longer one to start, so a
   * later catch-up (a hello to a new leader, this tab taking the lead) must
   * not hand it a snapshot in place of its events.
   */
  current?(want: unknown): unknown;
  /** Tab `tab` now asks for `want` (`undefined`: it left). True when the shared connection must ask the server for more. */
  join?(tab: string, want: unknown): boolean;
  /** What every tab must know to lead next (the union of the tabs' sets), and taking it over. */
  union?(): unknown;
  adopt?(union: unknown): void;
  /** The arguments after the sink to dial the shared connection with (a channel set). */
  dialArgs?(): unknown[];
}

type Message =
  | { t: 'who'; from: string }
  | { t: 'lead'; from: string; epoch: number; open: boolean; next?: string | undefined }
  | { t: 'claim'; from: string; epoch: number }
  | { t: 'bye'; from: string; epoch: number; next?: string | undefined; back?: boolean }
  | { t: 'gone'; from: string; back?: boolean }
  | { t: 'hello'; from: string; since: string | undefined; want?: unknown }
  | { t: 'sync'; to: string; frames: Frame[]; open: boolean; union?: unknown }
  | { t: 'f'; from: string; frame: Frame }
  | { t: 'cmd'; from: string; to: string; n: number; name: string; input: unknown; timeout: number; channel?: string }
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

export const wire = (args: unknown[]) => args.map((a) => (a instanceof BoardcastError ? { '~error': a.toJSON() } : a));
export const unwire = (args: unknown[]) =>
  args.map((a) =>
    a && typeof a === 'object' && '~error' in a ? BoardcastError.fromJSON((a as { '~error': unknown })['~error']) : a,
  );

/**
 * A catch-up frame this tab records but its client does not get (a `~`
 * before the method: no sink has such a method, and it moves no id); see
 * {@link ShareModel.catchUp}.
 */
const unhide = (frame: Frame): Frame => (frame[0][0] === '~' ? [frame[0].slice(1), frame[1]] : frame);

/** Index of the frame with id `since` in `ring` (-1: not there). */
export function ringIndex(ring: readonly Frame[], since: string | undefined, idOf: (frame: Frame) => unknown): number {
  if (since !== undefined) for (let i = ring.length - 1; i >= 0; i--) if (idOf(ring[i] as Frame) === since) return i;
  return -1;
}

/** Keep `frame` among the last {@link RING}. */
export function keep(ring: Frame[], frame: Frame): void {
  ring.push(frame);
  if (ring.length > RING) ring.shift();
}

/** The single stream's frames: one state mirror and the last {@link RING} snapshots/events/resets. */
function streamModel<C extends ContractSpec>(contract: C | ClientContract<C>): ShareModel {
  const mirror = createStateMirror<C>(contract);
  const ring: Frame[] = [];
  let position: string | undefined;
  const idOf = ([method, args]: Frame) =>
    (method === 'event' ? args[2] : method === 'snapshot' ? args[1] : undefined) as string | null | undefined;
  return {
    methods: SINK_METHODS,
    get position() {
      return position;
    },
    idOf,
    record(frame) {
      const [method, args] = frame;
      position = idOf(frame) || position;
      if (method === 'snapshot') mirror.replace(args[0] as never);
      else if (method === 'event') {
        try {
          mirror.apply(args[0] as never, args[1] as never);
        } catch {
          // The hub skipped a reducer that threw; so does every mirror.
        }
      }
      if (method === 'snapshot' || method === 'event' || method === 'reset') keep(ring, frame);
    },
    catchUp(since) {
      const at = ringIndex(ring, since, idOf);
      if (at >= 0) return ring.slice(at + 1);
      const state = mirror.getSnapshot();
      return state === undefined ? [] : [['snapshot', [state, position ?? null]]];
    },
  };
}

/**
 * `transport`, shared with the other tabs that compute the same `identity`
 * (server URL, transport, events, credential); the plain transport where
 * there is nothing to share with (no `BroadcastChannel`, not a page, or
 * `share: false`). `model` says what the frames mean (default: the single
 * stream's).
 */
export function shareTransport<C extends ContractSpec>(
  transport: Transport,
  contract: C | ClientContract<C>,
  identity: string,
  options: ShareOptions,
  model: ShareModel = streamModel(contract),
): Transport {
  const page = typeof window === 'object' && typeof document === 'object';
  if (!(options.share ?? page) || typeof BroadcastChannel !== 'function') return transport;

  const me = Math.random().toString(36).slice(2) + Date.now().toString(36);
  const channel = new BroadcastChannel(`boardcast:${transport.name}:${hash(identity)}`);
  const post = (message: Message) => channel.postMessage(message);
  /** The last server status frame seen. */
  let serverFrame: Frame | undefined;
  let open = false;

  let role: 'leader' | 'follower' | 'electing' = 'electing';
  let leader: string | undefined;
  let epoch = 0;
  let heard = 0;
  let claims: Set<string> | undefined;
  /** This tab's own client: its current link's sink, the last id delivered to it, and what it asks for. */
  let local: { sink: LinkSink; at: string | undefined; want: unknown } | undefined;
  /** A `hello` is out: the channel is ignored until its answer. */
  let syncing = false;
  let real: (() => void) | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: BoardcastError): void }>();
  const command = transport.command as (
    name: string,
    input: unknown,
    timeout: number,
    channel?: string,
  ) => Promise<unknown>;
  let seq = 0;
  /** Leader: the tabs that said hello. Follower: the tab the leader named to take over. */
  const followers = new Set<string>();
  let successor: string | undefined;
  const next = () => [...followers].sort()[0];
  const announce = () => post({ t: 'lead', from: me, epoch, open, next: next() });

  const record = (frame: Frame) => {
    const method = frame[0];
    if (method === 'open') open = true;
    else if (method === 'server') serverFrame = frame;
    else if (method === 'drop') open = false;
    else model.record(frame);
  };
  const deliver = (frame: Frame) => {
    if (!local) return;
    local.at = model.idOf(frame) || local.at;
    if (model.accepts?.(frame, local.want) === false) return;
    model.delivered?.(frame, local.want);
    (local.sink as unknown as Record<Method, ((...a: unknown[]) => void) | undefined>)[frame[0]]?.(...frame[1]);
  };

  /** The server's status (a degraded bus: not among the events), then the frames after `since`. */
  const catchUp = (since: string | undefined, want: unknown): Frame[] => [
    ...(serverFrame ? [serverFrame] : []),
    ...model.catchUp(since, want),
  ];

  /**
   * The leader's link to the server: every frame is kept, passed on, and
   * delivered to this tab's client when it listens. Not tied to that
   * client's link, so a new leader dials at once even while its own client
   * waits out a backoff.
   */
  let link = 0;
  const dialReal = (from: string | undefined) => {
    if (real) return;
    // A plain object, not a Proxy: transports spread the sink into their own.
    const mine = ++link;
    const leaderSink = {} as Record<Method, (...args: unknown[]) => void>;
    for (const method of new Set(['open', 'server', 'retry', 'error', 'drop', ...model.methods])) {
      leaderSink[method] = (...args: unknown[]) => {
        // A late frame of a link this tab replaced (a grown channel set) or gave up.
        if (mine !== link) return;
        if (method === 'drop') real = undefined;
        record([method, args]);
        post({ t: 'f', from: me, frame: [method, wire(args)] });
        deliver([method, args]);
      };
    }
    const dial = transport.dial as (...args: unknown[]) => () => void;
    real = dial(from, leaderSink, ...(model.dialArgs?.() ?? []));
  };
  const hangUp = () => {
    link++;
    real?.();
    real = undefined;
  };
  /** A tab asks for `want`: the leader asks the server for what the shared connection lacks. */
  const join = (tab: string, want: unknown) => {
    if (model.join?.(tab, want) && role === 'leader' && real) {
      // Resumed from where the replaced link stopped: nothing lost, nothing doubled.
      hangUp();
      dialReal(model.position);
    }
  };

  /** This tab's client's `want`, as it stands now (see ShareModel.current). */
  const wantNow = () => (local && model.current ? model.current(local.want) : local?.want);
  const hello = () => {
    if (!leader || role === 'leader') return;
    syncing = true;
    const want = wantNow();
    model.join?.(me, want);
    post({ t: 'hello', from: me, since: local ? local.at : model.position, want });
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
    const position = model.position;
    if (local && position !== undefined && local.at !== position)
      for (const frame of catchUp(local.at, wantNow())) deliver(frame);
    if (local) model.join?.(me, wantNow());
    // Nothing seen yet: resume from where this tab's client stands (its `lastEventId` option).
    dialReal(position ?? local?.at);
  };
  const stepDown = () => {
    hangUp();
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
        if (!data.back) model.join?.(data.from, undefined);
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
        if (!data.back) model.join?.(data.from, undefined);
        return;
      case 'hello':
        if (role === 'leader') {
          followers.add(data.from);
          const frames = catchUp(data.since, data.want).map(([m, a]): Frame => [m, wire(a)]);
          post({ t: 'sync', to: data.from, frames, open, union: model.union?.() });
        }
        // Every tab keeps the union: whoever leads next dials all of it at once.
        join(data.from, data.want);
        return;
      case 'sync': {
        if (data.to !== me || !syncing) return;
        syncing = false;
        if (data.union !== undefined) model.adopt?.(data.union);
        const frames = data.frames.map(([method, args]): Frame => [method, unwire(args)]);
        const kept = frames.map(unhide);
        // The ring may already hold the first of them (kept while this tab's client was away).
        const known = ringIndex(kept, model.position, model.idOf);
        frames.forEach((frame, i) => {
          if (i > known) record(kept[i] as Frame);
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
        command(data.name, data.input, data.timeout, data.channel).then(
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
  /**
   * `back`: the page is frozen or kept in the back-forward cache and may
   * come back: what it asks for stays in the union (channels), so it catches
   * up exactly when it wakes.
   */
  const leave = (back: boolean) => {
    if (role !== 'leader') return void post({ t: 'gone', from: me, back });
    post({ t: 'bye', from: me, epoch, next: next(), back });
    followers.clear();
    stepDown();
    leader = undefined;
  };
  const onHide = (event: PageTransitionEvent) => leave(event.persisted);
  const onFreeze = () => leave(true);
  const onResume = () => {
    if (!stopped && role !== 'leader') post({ t: 'who', from: me });
  };
  if (page) {
    addEventListener('pagehide', onHide);
    document.addEventListener('freeze', onFreeze);
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
    dial(lastEventId: string | undefined, sink: LinkSink, _side?: boolean, want?: unknown) {
      start();
      const mine = { sink, at: lastEventId, want };
      local = mine;
      if (role === 'leader') {
        if (real) {
          // The link is up (this tab's client was away, or changed its set): catch it up from the ring.
          queueMicrotask(() => {
            if (local !== mine) return;
            if (mine.at !== model.position || want !== undefined)
              for (const frame of catchUp(mine.at, want)) deliver(frame);
            if (open) deliver(['open', []]);
            join(me, want);
          });
        } else {
          model.join?.(me, want);
          dialReal(lastEventId ?? model.position);
        }
      } else if (leader) queueMicrotask(hello);
      return () => {
        if (local === mine) local = undefined;
        // A channel client changing its set dials again at once: the link stays up for it.
        if (role === 'leader' && want === undefined) hangUp();
      };
    },
    command(name: string, input: unknown, timeoutMs: number, channelId?: string) {
      // SSE commands are HTTP requests: every tab sends its own.
      if (transport.name === 'sse' || role === 'leader' || !leader) return command(name, input, timeoutMs, channelId);
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
        post({ t: 'cmd', from: me, to, n, name, input, timeout: timeoutMs, channel: channelId });
      });
    },
    stop(error) {
      if (stopped) return;
      leave(false);
      stopped = true;
      clearInterval(timer);
      for (const p of pending.values()) p.reject(error);
      pending.clear();
      if (page) {
        removeEventListener('pagehide', onHide);
        document.removeEventListener('freeze', onFreeze);
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
    o.directory,
  ]);
}
