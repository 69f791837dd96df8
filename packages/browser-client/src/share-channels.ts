import { type ClientContract, type ContractSpec, DIRECTORY } from '@boardcast/core';
import type { ChannelDial, DirectoryQuery } from './channel-link.js';
import { createDirectoryMirror } from './directory-mirror.js';
import { type Frame, keep, ringIndex, type ShareModel } from './share.js';
import { createStateMirror, type StateMirror } from './state-mirror.js';

/**
 * Tab sharing for channel clients (see share.ts for the election, hand-over
 * and catch-up). The shared connection carries the **union** of the tabs'
 * sets: each tab says what it asks for (its whole set, on every change),
 * every tab keeps every tab's set, a mirror of every channel of the union,
 * and the last frames, so whichever tab leads next dials the whole union at
 * once, resumed from its position (nothing lost, nothing doubled).
 *
 * - A tab's set grows past the union: the leader asks the server for the
 *   new channels (a new connection resumed from its position: over SSE a
 *   stream's set is fixed; over WebSocket the same, for one code path), and
 *   their snapshots reach the tabs that asked as frames.
 * - A channel the union already holds: the leader hands the tab its
 *   snapshot from its mirror at once; the server is not asked.
 * - Each tab's client gets every frame and keeps only its own channels (its
 *   `lastEventId` is the shared connection's); a refusal (`forbidden`) goes
 *   only to tabs that asked for the channel, and leaves every tab's set.
 * - `{ channel, since }`: the shared connection resumes from its own
 *   position, not the tab's `since`, so the tab gets the channel's `reset`
 *   (`history`) and its snapshot — what a server answers when its history no
 *   longer reaches back. Use `share: false` for a replay of stored history.
 * - The union does not shrink while the tabs live (a channel nobody holds
 *   any more is filtered out in every tab); it is recomputed whenever the
 *   shared connection is dialled, and drops what closed tabs held (their
 *   mirrors too: asked for again, such a channel starts with a snapshot). A
 *   frozen tab, or one kept in the back-forward cache, keeps its channels in
 *   the union, so it catches up exactly when it wakes.
 */

/** Sink methods of a channel connection (besides the single stream's `open`, `server`, `retry`, `error`, `drop`). */
const METHODS = ['channelSnapshot', 'channelEvent', 'channelReset', 'forbidden', 'started'];

const isPattern = (entry: string) => entry.length > 1 && entry.endsWith('*');
/** Whether set entry `entry` (an id, a `prefix*` pattern, `~directory`) holds `channel`. */
const holds = (entry: string, channel: string) =>
  entry === channel || (isPattern(entry) && channel !== DIRECTORY && channel.startsWith(entry.slice(0, -1)));
/** Whether any of set entries `entries` holds `channel`. */
const holdsAny = (entries: readonly string[], channel: string) => entries.some((entry) => holds(entry, channel));
const entriesOf = (want: ChannelDial) => [...want.resume, ...want.fresh, ...want.since.map((s) => s.channel)];

export function channelShareModel<C extends ContractSpec>(
  contract: C | ClientContract<C>,
  directory: DirectoryQuery | undefined,
): ShareModel {
  const mirrors = new Map<string, StateMirror<C>>();
  const pages = createDirectoryMirror(() => directory);
  const ring: Frame[] = [];
  let position: string | undefined;
  /** Each tab's set, as it last said. */
  const sets = new Map<string, string[]>();
  /** What the shared connection asked for when it was last dialled. */
  let asked: string[] = [];
  /**
   * Per `want` of this tab's client: the channels whose snapshot it has been
   * handed since that dial. Sent along (`started`) when the tab says hello
   * again, so a catch-up resumes them instead of covering their events with
   * a new snapshot (which would skip events the client's listeners never saw).
   */
  const startedBy = new WeakMap<object, Set<string>>();

  const idOf = ([method, args]: Frame) =>
    (method === 'channelEvent' ? args[3] : method === 'channelSnapshot' ? args[2] : undefined) as
      | string
      | null
      | undefined;
  const snapshotOf = (channel: string): Frame[] => {
    const state = channel === DIRECTORY ? pages.getSnapshot() : mirrors.get(channel)?.getSnapshot();
    return state === undefined ? [] : [['channelSnapshot', [channel, state, position ?? null]]];
  };
  /** Snapshots of what set entry `entry` holds, from the mirrors. */
  const snapshotsFor = (entry: string): Frame[] =>
    isPattern(entry) ? [...mirrors.keys()].filter((c) => holds(entry, c)).flatMap(snapshotOf) : snapshotOf(entry);

  return {
    methods: METHODS,
    get position() {
      return position;
    },
    idOf,
    record(frame) {
      const [method, args] = frame;
      const channel = args[0] as string;
      position = idOf(frame) || position;
      if (method === 'channelSnapshot') {
        if (channel === DIRECTORY) pages.replace(args[1] as never);
        else {
          const mirror = mirrors.get(channel) ?? createStateMirror<C>(contract);
          mirrors.set(channel, mirror);
          mirror.replace(args[1] as never);
        }
      } else if (method === 'channelEvent') {
        try {
          if (channel === DIRECTORY) pages.apply(args[2]);
          else mirrors.get(channel)?.apply(args[1] as never, args[2] as never);
        } catch {
          // The hub skipped a reducer that threw; so does every mirror.
        }
      } else if (method === 'forbidden') {
        // Refused for the credential every tab of the group shares: no tab asks again.
        mirrors.delete(channel);
        if (channel === DIRECTORY) pages.replace(undefined);
        for (const [tab, list] of sets)
          sets.set(
            tab,
            list.filter((entry) => entry !== channel),
          );
        asked = asked.filter((entry) => entry !== channel);
      } else if (method !== 'channelReset' || args[2] === true) return;
      keep(ring, frame);
    },
    catchUp(since, want) {
      const dial = want as (ChannelDial & { started?: readonly string[] }) | undefined;
      // A `since` of the tab's own: its reset first (marked `true`: for that tab only, never kept).
      const frames: Frame[] = (dial?.since ?? []).map(({ channel }) => ['channelReset', [channel, 'history', true]]);
      const at = ringIndex(ring, since, idOf);
      if (at >= 0) {
        const starting = [...(dial?.fresh ?? []), ...(dial?.since ?? []).map((s) => s.channel)];
        // Channels the tab starts get their snapshot at the end, at this tab's position: their frames
        // before it are recorded there but not passed to the client (the snapshot holds them).
        const started = new Set(dial?.started ?? []);
        const covered = (channel: string) =>
          !started.has(channel) &&
          (channel === DIRECTORY ? pages.getSnapshot() !== undefined : mirrors.has(channel)) &&
          holdsAny(starting, channel);
        for (const frame of ring.slice(at + 1))
          frames.push(covered(frame[1][0] as string) ? [`~${frame[0]}`, frame[1]] : frame);
        for (const entry of starting)
          frames.push(...snapshotsFor(entry).filter((frame) => !started.has(frame[1][0] as string)));
      } else for (const channel of [...mirrors.keys(), DIRECTORY]) frames.push(...snapshotOf(channel));
      return frames;
    },
    accepts([method, args], want) {
      if (method === 'started') return false;
      // Snapshots and events of channels it does not hold the client skips itself (they move its position).
      return method !== 'forbidden' || holdsAny(entriesOf(want as ChannelDial), args[0] as string);
    },
    delivered([method, args], want) {
      const channel = args[0] as string;
      if (method === 'channelSnapshot' && want && holdsAny(entriesOf(want as ChannelDial), channel))
        startedBy.set(want, (startedBy.get(want) ?? new Set<string>()).add(channel));
    },
    current(want) {
      const started = want ? startedBy.get(want as object) : undefined;
      return started ? { ...(want as ChannelDial), started: [...started] } : want;
    },
    join(tab, want) {
      if (want === undefined) {
        sets.delete(tab);
        return false;
      }
      const list = entriesOf(want as ChannelDial);
      sets.set(tab, list);
      return list.some((entry) => !asked.some((held) => held === entry || (!isPattern(entry) && holds(held, entry))));
    },
    union: () => [...sets],
    adopt(union) {
      for (const [tab, list] of union as [string, string[]][]) if (!sets.has(tab)) sets.set(tab, list);
    },
    dialArgs() {
      asked = [...new Set([...sets.values()].flat())];
      // A channel the union no longer holds stops being followed: its mirror would go stale, and a tab
      // that asks for it again must get a fresh snapshot, not a resume from a position that skipped it.
      for (const channel of mirrors.keys()) if (!holdsAny(asked, channel)) mirrors.delete(channel);
      if (!asked.includes(DIRECTORY)) pages.replace(undefined);
      const resume: string[] = [];
      const fresh: string[] = [];
      // Channels whose snapshot this tab holds continue from the position; the rest start fresh.
      for (const entry of asked) (position !== undefined && mirrors.has(entry) ? resume : fresh).push(entry);
      // So do the ones a pattern brought: named, they are resumed, and the pattern's snapshot skips them
      // (a pattern alone would send each a new snapshot, skipping the tabs' events in between).
      if (position !== undefined)
        for (const channel of mirrors.keys())
          if (!resume.includes(channel) && asked.some((entry) => isPattern(entry) && holds(entry, channel)))
            resume.push(channel);
      const dial: ChannelDial = { resume, fresh, since: [], directory };
      return [false, dial];
    },
  };
}
