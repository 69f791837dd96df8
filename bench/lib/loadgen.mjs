// Load generator process: many raw TCP connections speaking just enough
// HTTP / SSE / WebSocket / socket.io to receive events, find the embedded
// `{"s":<seq>,"t":<publish µs>` marker with Buffer.indexOf, and record the
// publish-to-receipt latency of every delivery. No frame objects, no JSON
// parsing, no event emitters per message: the generator must stay cheaper
// per delivery than the server it measures.
import dgram from 'node:dgram';
import net from 'node:net';
import { nowUs, sleep } from './clock.mjs';
import { Histogram } from './histogram.mjs';
import { serve } from './rpc.mjs';

const MARK = Buffer.from('{"s":');
const T_FIELD = Buffer.from(',"t":');
const C_FIELD = Buffer.from(',"c":');
const HEAD_END = Buffer.from('\r\n\r\n');
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const conns = [];
let window = { fromUs: Number.POSITIVE_INFINITY, toUs: Number.POSITIVE_INFINITY };
let hist = new Histogram();
let inWindow = 0;
let allDeliveries = 0;
let gaps = 0;
// Events a client received again (an id at or below one it already had).
let dups = 0;
// Events a channel client received from a channel other than its own.
let foreign = 0;
let cpuAtFrom;
let cpuAtTo;
let wallFrom = 0;
let wallTo = 0;
let progressTimer;
let udp;

// ------------------------------------------------------------------ parsing

/**
 * Read `{"s":123,"t":456` starting at `at` (the marker). Returns the index
 * after the t digits, or -1 when the buffer ends first (wait for more bytes).
 */
function readMarker(conn, buf, at, end, now) {
  let i = at + MARK.length;
  let s = 0;
  for (; i < end; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    s = s * 10 + (c - 48);
  }
  if (i + T_FIELD.length >= end) return -1;
  i += T_FIELD.length;
  let t = 0;
  for (; i < end; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    t = t * 10 + (c - 48);
  }
  if (i >= end) return -1;
  // Channel payloads go on with `,"c":<channel number>`: a client checks it got its own channel's events.
  if (conn.channel >= 0) {
    if (i + C_FIELD.length >= end) return -1;
    let c = -1;
    if (buf.indexOf(C_FIELD, i) === i) {
      c = 0;
      for (i += C_FIELD.length; i < end; i++) {
        const d = buf[i];
        if (d < 48 || d > 57) break;
        c = c * 10 + (d - 48);
      }
      if (i >= end) return -1;
    }
    if (c !== conn.channel) foreign++;
  }
  deliver(conn, s, t, now);
  return i;
}

function deliver(conn, s, t, now) {
  if (conn.lastSeq > 0 && s > conn.lastSeq + 1) gaps += s - conn.lastSeq - 1;
  if (s > conn.lastSeq) conn.lastSeq = s;
  else dups++;
  allDeliveries++;
  if (conn.stalled) return;
  if (t >= window.fromUs && t < window.toUs) {
    inWindow++;
    hist.record(now - t);
  }
}

/** Scan a text range for markers; returns where an incomplete marker starts, or -1. */
function scanRange(conn, buf, start, end, now) {
  let pos = start;
  for (;;) {
    const at = buf.indexOf(MARK, pos);
    if (at === -1 || at >= end) return -1;
    const next = readMarker(conn, buf, at, end, now);
    if (next === -1) return at;
    pos = next;
  }
}

function onSseBody(conn, chunk, now) {
  const buf = conn.carry ? Buffer.concat([conn.carry, chunk]) : chunk;
  conn.carry = null;
  const partial = scanRange(conn, buf, 0, buf.length, now);
  if (partial !== -1) conn.carry = Buffer.from(buf.subarray(partial));
  else if (buf.length >= MARK.length) {
    // A marker may straddle this chunk and the next one.
    const tail = buf.subarray(buf.length - (MARK.length - 1));
    if (tail.includes(0x7b)) conn.carry = Buffer.from(tail);
  }
}

function onWsBytes(conn, chunk, now) {
  const data = conn.carry ? Buffer.concat([conn.carry, chunk]) : chunk;
  conn.carry = null;
  let pos = 0;
  const n = data.length;
  while (n - pos >= 2) {
    const b0 = data[pos];
    const b1 = data[pos + 1];
    let len = b1 & 0x7f;
    let hdr = 2;
    if (len === 126) {
      if (n - pos < 4) break;
      len = data.readUInt16BE(pos + 2);
      hdr = 4;
    } else if (len === 127) {
      if (n - pos < 10) break;
      len = data.readUInt32BE(pos + 6);
      hdr = 10;
    }
    if (b1 & 0x80) hdr += 4;
    if (n - pos < hdr + len) break;
    onWsFrame(conn, b0 & 0x0f, data, pos + hdr, pos + hdr + len, now);
    pos += hdr + len;
  }
  if (pos < n) conn.carry = Buffer.from(data.subarray(pos));
}

function onWsFrame(conn, opcode, buf, start, end, now) {
  if (opcode === 1 || opcode === 0) {
    if (conn.kind === 'sio') {
      const c0 = buf[start];
      if (c0 === 0x32 && end - start === 1) return sendWs(conn, '3'); // engine.io ping -> pong
      if (c0 === 0x30) return sendWs(conn, '40'); // engine.io open -> socket.io connect
      if (c0 === 0x34 && buf[start + 1] === 0x30) {
        // A rooms client joins its room first (acknowledged) and is ready once in it.
        if (!conn.room) return markReady(conn);
        conn.joining = true;
        return sendWs(conn, `420["join","${conn.room}"]`);
      }
      if (c0 === 0x34 && buf[start + 1] === 0x33) {
        if (conn.joining) {
          conn.joining = false;
          return markReady(conn);
        }
        return onCommandResult(conn, now);
      }
    } else {
      if (!conn.ready) markReady(conn);
      // `{"type":"result"` — a command answer, not a broadcast.
      if (conn.pendingCmd && buf[start + 9] === 0x72 && buf[start + 10] === 0x65) return onCommandResult(conn, now);
    }
    scanRange(conn, buf, start, end, now);
  } else if (opcode === 9) {
    sendWs(conn, buf.subarray(start, end), 0x8a);
  } else if (opcode === 8) {
    conn.sock.destroy();
  }
}

/** Client frames must be masked; an all-zero key leaves the payload as is. */
function sendWs(conn, payload, first = 0x81) {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  let head;
  if (body.length < 126) {
    head = Buffer.from([first, 0x80 | body.length, 0, 0, 0, 0]);
  } else {
    head = Buffer.alloc(8);
    head[0] = first;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(body.length, 2);
  }
  conn.sock.write(Buffer.concat([head, body]));
}

// ------------------------------------------------------------- connections

function markReady(conn) {
  if (conn.ready) return;
  conn.ready = true;
  conn.onReady?.();
}

/**
 * Channel scenario: `{c}` in a path or room stands for this client's channel
 * number, `(indexOffset + i) mod channels` for the generator's i-th client,
 * so client i of the whole run (across generators) is on channel `c<i mod channels>`.
 */
function forClient(template, spec, i) {
  if (template === undefined || !spec.channels) return template;
  return template.replaceAll('{c}', String(((spec.indexOffset ?? 0) + i) % spec.channels));
}

function requestFor(spec, i) {
  const host = `Host: ${spec.host}:${spec.port}\r\n`;
  const path = forClient(spec.path, spec, i);
  if (spec.kind === 'sse') {
    return `GET ${path} HTTP/1.1\r\n${host}Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n`;
  }
  if (spec.kind === 'http-cmd') return null;
  const proto = spec.protocol ? `Sec-WebSocket-Protocol: ${spec.protocol}\r\n` : '';
  return (
    `GET ${path} HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n${proto}\r\n`
  );
}

function openOne(spec, index, nth) {
  return new Promise((resolve) => {
    const conn = {
      index,
      kind: spec.kind,
      room: forClient(spec.room, spec, nth),
      channel: spec.channels ? ((spec.indexOffset ?? 0) + nth) % spec.channels : -1,
      joining: false,
      sock: null,
      head: true,
      headBuf: null,
      carry: null,
      ready: false,
      closed: false,
      stalled: false,
      lastSeq: 0,
      onReady: null,
      pendingCmd: 0,
    };
    let settled = false;
    const settle = (ok, why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, conn, why });
    };
    const timer = setTimeout(() => {
      conn.sock.destroy();
      settle(false, 'timeout');
    }, spec.connectTimeoutMs ?? 15_000);
    conn.onReady = () => settle(true);
    const onData = (chunk) => {
      const now = nowUs();
      if (conn.head) {
        const buf = conn.headBuf ? Buffer.concat([conn.headBuf, chunk]) : chunk;
        const end = buf.indexOf(HEAD_END);
        if (end === -1) {
          conn.headBuf = Buffer.from(buf);
          return;
        }
        conn.head = false;
        conn.headBuf = null;
        const status = buf.toString('latin1', 9, 12);
        const expected = spec.kind === 'sse' ? '200' : '101';
        if (status !== expected) {
          sock.destroy();
          settle(false, `HTTP ${status}`);
          return;
        }
        if (spec.kind === 'ws' && spec.readyOn === 'upgrade') markReady(conn);
        const rest = buf.subarray(end + 4);
        if (rest.length === 0) return;
        chunk = rest;
      }
      if (spec.kind === 'sse') {
        if (!conn.ready) markReady(conn);
        onSseBody(conn, chunk, now);
      } else if (spec.kind === 'http-cmd') {
        onHttpResponse(conn, chunk, now);
      } else {
        onWsBytes(conn, chunk, now);
      }
    };
    // `onread` reads into one shared buffer and skips the stream machinery
    // (no Buffer and no 'data' event per read): the cheapest receive path
    // Node offers. Anything kept past the callback is copied.
    const sock = net.connect({
      host: spec.host,
      port: spec.port,
      localAddress: spec.sourceAddresses?.[index % spec.sourceAddresses.length],
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (nread, buf) => onData(buf.subarray(0, nread)) },
    });
    conn.sock = sock;
    sock.on('connect', () => {
      const req = requestFor(spec, nth);
      if (req) sock.write(req);
      else {
        conn.head = false;
        markReady(conn);
      }
    });
    sock.on('end', () => sock.destroy());
    sock.on('error', (error) => settle(false, error.code ?? String(error)));
    sock.on('close', () => {
      conn.closed = true;
      settle(false, 'closed');
    });
  });
}

async function connectMany(spec) {
  const started = Date.now();
  const failures = {};
  let next = 0;
  let failed = 0;
  const base = conns.length;
  const worker = async () => {
    while (next < spec.count) {
      const nth = next++;
      const index = base + nth;
      let result;
      for (let attempt = 0; attempt < 3; attempt++) {
        result = await openOne(spec, index, nth);
        if (result.ok) break;
        await sleep(50 * (attempt + 1));
      }
      if (result.ok) conns.push(result.conn);
      else {
        failed++;
        failures[result.why] = (failures[result.why] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency ?? 100, spec.count) }, worker));
  const stall = spec.stall ?? 0;
  for (let i = 0; i < stall && i < conns.length; i++) {
    conns[i].stalled = true;
    conns[i].sock.pause();
  }
  return { connected: conns.length - base, failed, failures, ms: Date.now() - started };
}

// ------------------------------------------------------------------ commands

const cmdHist = new Histogram();
let cmdDone = 0;
let cmdErrors = 0;

function onCommandResult(conn, now) {
  if (!conn.pendingCmd) return;
  const rtt = now - conn.pendingCmd;
  conn.pendingCmd = 0;
  if (conn.measuring) {
    cmdHist.record(rtt);
    cmdDone++;
  }
  conn.nextCmd?.();
}

function onHttpResponse(conn, chunk, now) {
  const buf = conn.carry ? Buffer.concat([conn.carry, chunk]) : chunk;
  conn.carry = null;
  const headEnd = buf.indexOf(HEAD_END);
  if (headEnd === -1) {
    conn.carry = Buffer.from(buf);
    return;
  }
  const head = buf.toString('latin1', 0, headEnd).toLowerCase();
  const m = /content-length:\s*(\d+)/.exec(head);
  let total;
  if (m) total = headEnd + 4 + Number(m[1]);
  else {
    const z = buf.indexOf('\r\n0\r\n\r\n', headEnd);
    total = z === -1 ? -1 : z + 7;
  }
  if (total === -1 || buf.length < total) {
    conn.carry = Buffer.from(buf);
    return;
  }
  if (!head.startsWith('http/1.1 200')) cmdErrors++;
  if (buf.length > total) conn.carry = Buffer.from(buf.subarray(total));
  onCommandResult(conn, now);
}

function commandFrame(spec, id) {
  const t = nowUs();
  if (spec.kind === 'http-cmd') {
    const body = `{"t":${t},"n":${id}}`;
    return (
      `POST ${spec.path} HTTP/1.1\r\nHost: ${spec.host}:${spec.port}\r\nContent-Type: application/json\r\n` +
      `Origin: http://${spec.host}:${spec.port}\r\nContent-Length: ${body.length}\r\n\r\n${body}`
    );
  }
  if (spec.kind === 'sio') return `420["cmd",{"t":${t},"n":${id}}]`;
  return `{"type":"command","id":${id},"command":"ping","data":{"t":${t},"n":${id}}}`;
}

async function runCommands({ intervalMs, durationMs, spec }) {
  const deadline = Date.now() + durationMs;
  let id = 0;
  const started = nowUs();
  const active = conns.filter((c) => !c.closed);
  const done = [];
  for (const conn of active) {
    conn.measuring = true;
    done.push(
      new Promise((resolve) => {
        let lastSend = 0;
        const send = () => {
          if (Date.now() >= deadline || conn.closed) {
            conn.nextCmd = null;
            resolve();
            return;
          }
          const wait = Math.max(0, lastSend + intervalMs - Date.now());
          setTimeout(() => {
            lastSend = Date.now();
            const frame = commandFrame(spec, ++id);
            conn.pendingCmd = nowUs();
            if (spec.kind === 'http-cmd') conn.sock.write(frame);
            else sendWs(conn, frame);
          }, wait);
        };
        conn.nextCmd = send;
        // Spread the first commands over one interval.
        setTimeout(send, Math.random() * intervalMs);
      }),
    );
  }
  await Promise.race([Promise.all(done), sleep(durationMs + 5000)]);
  const elapsedS = (nowUs() - started) / 1e6;
  return { hist: cmdHist.toJSON(), done: cmdDone, errors: cmdErrors, perSecond: cmdDone / elapsedS };
}

// ------------------------------------------------------------------ control

function cpuSnapshot() {
  const u = process.cpuUsage();
  return { cpu: u.user + u.system, wall: nowUs() };
}

serve({
  connect: (spec) => connectMany(spec),

  /** Count only events published inside [fromUs, toUs); CPU sampled at both ends. */
  arm({ fromUs, toUs }) {
    window = { fromUs, toUs };
    hist = new Histogram();
    inWindow = 0;
    gaps = 0;
    dups = 0;
    foreign = 0;
    cpuAtFrom = undefined;
    cpuAtTo = undefined;
    setTimeout(
      () => {
        cpuAtFrom = cpuSnapshot();
        wallFrom = cpuAtFrom.wall;
      },
      Math.max(0, (fromUs - nowUs()) / 1000),
    );
    setTimeout(
      () => {
        cpuAtTo = cpuSnapshot();
        wallTo = cpuAtTo.wall;
      },
      Math.max(0, (toUs - nowUs()) / 1000),
    );
    return { ok: true };
  },

  /** Report the lowest sequence number every live client has, to the server's UDP port, every 10 ms. */
  progress({ on, port, index }) {
    clearInterval(progressTimer);
    if (!on) return { ok: true };
    udp ??= dgram.createSocket('udp4');
    const msg = Buffer.alloc(9);
    progressTimer = setInterval(() => {
      msg.writeUInt8(index, 0);
      msg.writeDoubleLE(minSeq(), 1);
      udp.send(msg, port, '127.0.0.1');
    }, 10);
    return { ok: true };
  },

  status() {
    let ready = 0;
    let closed = 0;
    let stalledOpen = 0;
    for (const c of conns) {
      if (c.closed) closed++;
      else if (c.ready) ready++;
      if (c.stalled && !c.closed) stalledOpen++;
    }
    return { ready, closed, stalledOpen, min: minSeq(), max: maxSeq(), all: allDeliveries };
  },

  collect() {
    const cpuPct =
      cpuAtFrom && cpuAtTo && wallTo > wallFrom ? ((cpuAtTo.cpu - cpuAtFrom.cpu) / (wallTo - wallFrom)) * 100 : null;
    return {
      deliveries: inWindow,
      all: allDeliveries,
      gaps,
      dups,
      foreign,
      hist: hist.toJSON(),
      cpuPct,
      closed: conns.filter((c) => c.closed && !c.stalled).length,
      stalledClosed: conns.filter((c) => c.closed && c.stalled).length,
    };
  },

  commands: (args) => runCommands(args),

  close() {
    clearInterval(progressTimer);
    for (const c of conns) c.sock.destroy();
    conns.length = 0;
    return { ok: true };
  },
});

function minSeq() {
  let min = Number.POSITIVE_INFINITY;
  for (const c of conns) if (!c.closed && !c.stalled && c.lastSeq < min) min = c.lastSeq;
  return min === Number.POSITIVE_INFINITY ? 0 : min;
}

function maxSeq() {
  let max = 0;
  for (const c of conns) if (c.lastSeq > max) max = c.lastSeq;
  return max;
}
