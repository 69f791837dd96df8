import { DIRECTORY, isChannelId } from './channel.js';
import { parseDirectoryQuery } from './channel-query.js';
import { BoardcastError, type ErrorBody } from './errors.js';
import { parseServerStatus, type ServerStatus } from './status.js';

/** WebSocket subprotocol spoken between browsers and ws-server. */
export const WS_PROTOCOL = 'boardcast.v1';

export type CommandId = string | number;

// ---------------------------------------------------------------- envelopes

/** One channel a client asks for over WS: fresh, or its events after `since`. */
export interface WsChannelRequest {
  readonly channel: string;
  readonly since?: string | undefined;
}

/** The page of the directory a `subscribe` asks for (see core's `DirectoryQuery`). */
export interface WsDirectoryQuery {
  readonly offset?: number | undefined;
  readonly limit?: number | undefined;
  readonly kind?: string | undefined;
  readonly status?: string | undefined;
}

export type ClientEnvelope =
  | {
      readonly type: 'command';
      readonly id: CommandId;
      readonly command: string;
      readonly data: unknown;
      /** The channel the command is for; missing: the default channel. */
      readonly channel?: string | undefined;
    }
  | { readonly type: 'ping'; readonly id?: CommandId | undefined }
  /**
   * Add channels to the connection's set (ids, `prefix*`, `~directory`,
   * or `{channel, since}`), answered by a `result` with
   * `{"added":[…],"refused":[{"channel","error"}]}` — refused ones also get a
   * `forbidden` frame in the stream. `directory` pages the directory.
   */
  | {
      readonly type: 'subscribe';
      readonly id: CommandId;
      readonly channels: readonly WsChannelRequest[];
      readonly directory?:
        | { readonly offset?: number; readonly limit?: number; readonly kind?: string; readonly status?: string }
        | undefined;
    }
  /** Drop channels from the set, answered by a `result` with `{"removed":[…]}`. */
  | { readonly type: 'unsubscribe'; readonly id: CommandId; readonly channels: readonly string[] };

/**
 * What a client receives. On a connection that names channels, `snapshot`,
 * `event` and `reset` carry `channel`, an `event` replayed to catch an
 * added channel up carries no `id` (`null` here), and `forbidden` names a
 * channel the viewer may not (or no longer) see.
 */
export type ServerEnvelope =
  | { readonly type: 'snapshot'; readonly id: string | null; readonly data: unknown; readonly channel?: string }
  | {
      readonly type: 'event';
      readonly event: string;
      readonly id: string | null;
      readonly data: unknown;
      readonly channel?: string;
    }
  | { readonly type: 'forbidden'; readonly channel: string; readonly error: ErrorBody['error'] }
  | { readonly type: 'result'; readonly id: CommandId; readonly ok: true; readonly data: unknown }
  | { readonly type: 'result'; readonly id: CommandId; readonly ok: false; readonly error: ErrorBody['error'] }
  | { readonly type: 'reset'; readonly reason: string; readonly channel?: string }
  | { readonly type: 'pong'; readonly id?: CommandId | undefined }
  | { readonly type: 'error'; readonly error: ErrorBody['error'] }
  | { readonly type: 'status'; readonly data: ServerStatus };

// ---------------------------------------------------------------- encoders
// Built by concatenation around already-serialized JSON so a payload is
// stringified once per publish, not once per envelope or client.

const q = JSON.stringify;

export function encodeWsEvent(id: string, event: string, dataJson: string): string {
  return `{"type":"event","event":${q(event)},"id":${q(id)},"data":${dataJson}}`;
}

export function encodeWsSnapshot(stateJson: string, headId: string | undefined): string {
  return `{"type":"snapshot","id":${headId === undefined ? 'null' : q(headId)},"data":${stateJson}}`;
}

/** `{"type":"status","data":{"bus":…}}`: the server's {@link ServerStatus}, first on a stream and on every change. */
export function encodeWsStatus(statusJson: string): string {
  return `{"type":"status","data":${statusJson}}`;
}

export function encodeWsReset(reason: string): string {
  return `{"type":"reset","reason":${q(reason)}}`;
}

export function encodeWsResultOk(id: CommandId, resultJson: string): string {
  return `{"type":"result","id":${q(id)},"ok":true,"data":${resultJson}}`;
}

export function encodeWsResultError(id: CommandId, error: BoardcastError): string {
  return `{"type":"result","id":${q(id)},"ok":false,"error":${q(error.toJSON())}}`;
}

export function encodeWsError(error: BoardcastError): string {
  return `{"type":"error","error":${q(error.toJSON())}}`;
}

export function encodeWsPong(id: CommandId | undefined): string {
  return id === undefined ? '{"type":"pong"}' : `{"type":"pong","id":${q(id)}}`;
}

export function encodeWsCommand(id: CommandId, command: string, data: unknown, channel?: string): string {
  const to = channel === undefined ? '' : `,"channel":${q(channel)}`;
  return `{"type":"command","id":${q(id)},"command":${q(command)}${to},"data":${data === undefined ? 'null' : q(data)}}`;
}

/** `{"type":"subscribe",…}`: add channels to a WS connection's set. */
export function encodeWsSubscribe(
  id: CommandId,
  channels: readonly WsChannelRequest[],
  directory?: WsDirectoryQuery,
): string {
  const page = directory === undefined ? '' : `,"directory":${q(directory)}`;
  return `{"type":"subscribe","id":${q(id)},"channels":${q(channels)}${page}}`;
}

/** `{"type":"unsubscribe",…}`: drop channels from a WS connection's set. */
export function encodeWsUnsubscribe(id: CommandId, channels: readonly string[]): string {
  return `{"type":"unsubscribe","id":${q(id)},"channels":${q(channels)}}`;
}

export function encodeWsPing(id?: CommandId): string {
  return id === undefined ? '{"type":"ping"}' : `{"type":"ping","id":${q(id)}}`;
}

// ---------------------------------------------------------------- decoding

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MAX_ID_LENGTH = 128;
// Pure: a browser client that imports only the server-frame decoder drops them.
const utf8 = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true });
const encoder = /* @__PURE__ */ new TextEncoder();

function invalid(message: string): BoardcastError {
  return new BoardcastError('invalid_payload', message);
}

export function utf8ByteLength(text: string): number {
  return encoder.encode(text).length;
}

function isCommandId(value: unknown): value is CommandId {
  return (
    (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH) ||
    (typeof value === 'number' && Number.isSafeInteger(value))
  );
}

/**
 * Parse JSON, refusing keys that could reach an object's prototype if the
 * data is later merged into another object.
 */
/** Most channels one subscribe/unsubscribe frame may name (the connection's own bound applies too). */
export const MAX_CHANNELS_PER_FRAME = 1000;

/** A channel id, a `prefix*` pattern, or the directory: what a client may name in its set. */
function isWsChannel(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (value === DIRECTORY) return true;
  if (value.length > 1 && value.endsWith('*')) return isChannelId(`${value.slice(0, -1)}x`);
  return isChannelId(value);
}

export function parseJsonStrict(text: string): unknown {
  return JSON.parse(text, function reviver(this: unknown, key: string, value: unknown) {
    if (FORBIDDEN_KEYS.has(key)) throw invalid(`key "${key}" is not allowed`);
    return value;
  });
}

export interface DecodeOptions {
  /** Largest accepted frame in UTF-8 bytes (default 65536). */
  readonly maxBytes?: number;
}

export type ClientDecodeResult =
  | { readonly ok: true; readonly envelope: ClientEnvelope }
  | { readonly ok: false; readonly error: BoardcastError; readonly id?: CommandId | undefined };

/**
 * Strict decoder for frames a browser sends. Never throws: the result says
 * what was wrong, with the command id when one could be read so the server
 * can answer that command instead of dropping it.
 */
export function tryDecodeClientFrame(raw: string | Uint8Array, options: DecodeOptions = {}): ClientDecodeResult {
  const maxBytes = options.maxBytes ?? 65536;
  try {
    let text: string;
    if (typeof raw === 'string') {
      if (raw.length > maxBytes || (raw.length * 3 > maxBytes && encoder.encode(raw).length > maxBytes)) {
        return { ok: false, error: new BoardcastError('payload_too_large', `frame exceeds ${maxBytes} bytes`) };
      }
      text = raw;
    } else if (!ArrayBuffer.isView(raw)) {
      // A caller without types (a plain-JS server) may hand anything over.
      return { ok: false, error: invalid('frame must be text or bytes') };
    } else {
      if (raw.byteLength > maxBytes) {
        return { ok: false, error: new BoardcastError('payload_too_large', `frame exceeds ${maxBytes} bytes`) };
      }
      try {
        text = utf8.decode(raw);
      } catch {
        return { ok: false, error: invalid('frame is not valid UTF-8') };
      }
    }

    let value: unknown;
    try {
      value = parseJsonStrict(text);
    } catch (error) {
      return {
        ok: false,
        error: error instanceof BoardcastError ? error : invalid('frame is not valid JSON'),
      };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { ok: false, error: invalid('frame must be a JSON object') };
    }
    const record = value as Record<string, unknown>;
    const type = record.type;
    const id = isCommandId(record.id) ? record.id : undefined;

    if (type === 'command') {
      if (id === undefined) {
        return { ok: false, error: invalid('command needs an "id": a non-empty string (≤128 chars) or an integer') };
      }
      if (typeof record.command !== 'string' || !COMMAND_NAME.test(record.command)) {
        return { ok: false, id, error: invalid('command needs a "command" name') };
      }
      if (record.channel !== undefined && !isWsChannel(record.channel)) {
        return { ok: false, id, error: invalid('command "channel" must be a channel id') };
      }
      const channel = record.channel as string | undefined;
      return {
        ok: true,
        envelope:
          channel === undefined
            ? { type: 'command', id, command: record.command, data: record.data }
            : { type: 'command', id, command: record.command, data: record.data, channel },
      };
    }
    if (type === 'subscribe' || type === 'unsubscribe') {
      if (id === undefined) return { ok: false, error: invalid(`${type} needs an "id"`) };
      const list = record.channels;
      if (!Array.isArray(list) || list.length > MAX_CHANNELS_PER_FRAME) {
        return {
          ok: false,
          id,
          error: invalid(`${type} needs "channels": an array of at most ${MAX_CHANNELS_PER_FRAME}`),
        };
      }
      if (type === 'unsubscribe') {
        if (!list.every(isWsChannel)) return { ok: false, id, error: invalid('"channels" must be channel ids') };
        return { ok: true, envelope: { type, id, channels: list as string[] } };
      }
      const channels: WsChannelRequest[] = [];
      for (const item of list) {
        if (isWsChannel(item)) channels.push({ channel: item });
        else if (item !== null && typeof item === 'object' && isWsChannel((item as { channel?: unknown }).channel)) {
          const { channel, since } = item as { channel: string; since?: unknown };
          if (since !== undefined && since !== null && (typeof since !== 'string' || since.length > MAX_ID_LENGTH)) {
            return { ok: false, id, error: invalid('"since" must be an event id') };
          }
          channels.push(typeof since === 'string' ? { channel, since } : { channel });
        } else return { ok: false, id, error: invalid('"channels" must be channel ids or {channel, since}') };
      }
      const directory = record.directory;
      if (
        directory !== undefined &&
        (directory === null || typeof directory !== 'object' || Array.isArray(directory))
      ) {
        return { ok: false, id, error: invalid('"directory" must be an object') };
      }
      // The same rules as the query and the SSE body (`offset: -1`, `kind: ""`
      // are refused there, so here too); its BoardcastError carries this id.
      let page: WsDirectoryQuery | undefined;
      try {
        page = directory === undefined ? undefined : (parseDirectoryQuery(directory) ?? {});
      } catch (error) {
        if (error instanceof BoardcastError) return { ok: false, id, error };
        throw error;
      }
      return { ok: true, envelope: { type, id, channels, directory: page } as ClientEnvelope };
    }
    if (type === 'ping') {
      if (record.id !== undefined && id === undefined) return { ok: false, error: invalid('ping "id" is malformed') };
      return { ok: true, envelope: { type: 'ping', id } };
    }
    return {
      ok: false,
      id,
      error: invalid(typeof type === 'string' ? `unknown frame type "${type.slice(0, 32)}"` : 'frame needs a "type"'),
    };
  } catch (error) {
    // Anything unforeseen (a stack overflow on absurd nesting …) is still
    // just a bad frame.
    return {
      ok: false,
      error: error instanceof BoardcastError ? error : invalid('frame could not be decoded'),
    };
  }
}

/** Throwing form of {@link tryDecodeClientFrame}; throws only `BoardcastError`. */
export function decodeClientFrame(raw: string | Uint8Array, options?: DecodeOptions): ClientEnvelope {
  const result = tryDecodeClientFrame(raw, options);
  if (!result.ok) throw result.error;
  return result.envelope;
}

/** Decoder for frames a client receives from ws-server. Throws only `BoardcastError`. */
export function decodeServerFrame(raw: string): ServerEnvelope {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw invalid('server frame is not valid JSON');
  }
  if (value === null || typeof value !== 'object') throw invalid('server frame must be a JSON object');
  const record = value as Record<string, unknown>;
  switch (record.type) {
    case 'snapshot': {
      if (!('data' in record)) break;
      const id = typeof record.id === 'string' ? record.id : null;
      return typeof record.channel === 'string'
        ? { type: 'snapshot', id, data: record.data, channel: record.channel }
        : { type: 'snapshot', id, data: record.data };
    }
    case 'event': {
      if (typeof record.event !== 'string') break;
      if (typeof record.channel === 'string') {
        const id = typeof record.id === 'string' ? record.id : null;
        return { type: 'event', event: record.event, id, data: record.data, channel: record.channel };
      }
      if (typeof record.id !== 'string') break;
      return { type: 'event', event: record.event, id: record.id, data: record.data };
    }
    case 'forbidden': {
      if (typeof record.channel !== 'string') break;
      return { type: 'forbidden', channel: record.channel, error: BoardcastError.fromJSON(record.error).toJSON() };
    }
    case 'result': {
      if (!isCommandId(record.id)) break;
      if (record.ok === true) return { type: 'result', id: record.id, ok: true, data: record.data };
      const error = BoardcastError.fromJSON(record.error);
      return { type: 'result', id: record.id, ok: false, error: error.toJSON() };
    }
    case 'reset': {
      const reason = typeof record.reason === 'string' ? record.reason : 'history';
      return typeof record.channel === 'string'
        ? { type: 'reset', reason, channel: record.channel }
        : { type: 'reset', reason };
    }
    case 'pong':
      return { type: 'pong', id: isCommandId(record.id) ? record.id : undefined };
    case 'error': {
      const error = BoardcastError.fromJSON(record.error);
      return { type: 'error', error: error.toJSON() };
    }
    case 'status': {
      const data = parseServerStatus(record.data);
      if (!data) break;
      return { type: 'status', data };
    }
  }
  throw invalid('server frame has an unknown or malformed type');
}
