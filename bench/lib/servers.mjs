// The servers under test and how a load generator talks to each.

// How a client reaches a server, from the `info` its adapter's start() returns.
const sse = (info) => ({ kind: 'sse', path: info.sse });
const httpCommand = (info) => ({ kind: 'http-cmd', path: info.http });
/** boardcast's WebSocket endpoint: with its subprotocol, a client ready at its first frame. */
const boardcastWs = (info) => ({ kind: 'ws', path: info.ws, protocol: info.protocol, readyOn: 'frame' });
export const SERVERS = {
  'boardcast-sse': {
    label: '@boardcast/sse-server',
    family: 'sse',
    ours: true,
    listen: sse,
    command: httpCommand,
  },
  // One instance of several sharing a Redis stream (the `redis` scenario only).
  'boardcast-sse-redis': {
    label: '@boardcast/sse-server on @boardcast/bus-redis',
    family: 'sse',
    ours: true,
    listen: sse,
  },
  'better-sse': {
    label: 'better-sse (Channel.broadcast)',
    family: 'sse',
    listen: sse,
  },
  'raw-sse': {
    label: 'floor: res.write loop',
    family: 'sse',
    floor: true,
    listen: sse,
    command: httpCommand,
  },
  'raw-sse-socket': {
    label: 'reference: pre-framed socket.write',
    family: 'sse',
    floor: true,
    listen: sse,
  },
  'boardcast-ws': {
    label: '@boardcast/ws-server',
    family: 'ws',
    ours: true,
    listen: boardcastWs,
    command: boardcastWs,
  },
  'raw-ws': {
    label: 'floor: ws send loop',
    family: 'ws',
    floor: true,
    listen: (info) => ({ kind: 'ws', path: info.ws, readyOn: 'upgrade' }),
    command: (info) => ({ kind: 'ws', path: info.ws, readyOn: 'upgrade' }),
  },
  socketio: {
    label: 'socket.io 4 (websocket only)',
    family: 'both',
    listen: (info) => ({ kind: 'sio', path: info.ws }),
    command: (info) => ({ kind: 'sio', path: info.ws }),
  },
};

/**
 * The `channels` scenario: one hub / io with `channels` channels (rooms), each
 * client on one of them. `{c}` in a path or room is the client's channel
 * number (see `forClient` in loadgen.mjs).
 */
export const CHANNEL_SERVERS = {
  'boardcast-sse-channels': {
    label: '@boardcast/sse-server, ?channels=c<k>',
    family: 'sse',
    ours: true,
    listen: sse,
  },
  'boardcast-ws-channels': {
    label: '@boardcast/ws-server, ?channels=c<k>',
    family: 'ws',
    ours: true,
    listen: boardcastWs,
  },
  'socketio-rooms': {
    label: 'socket.io 4 rooms (io.to(room).emit)',
    family: 'both',
    listen: (info) => ({ kind: 'sio', path: info.ws, room: info.room }),
  },
};

export const SSE_SERVERS = ['boardcast-sse', 'better-sse', 'raw-sse', 'raw-sse-socket', 'socketio'];
export const WS_SERVERS = ['boardcast-ws', 'raw-ws', 'socketio'];
