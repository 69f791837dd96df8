# boardcast agent: the WebSocket client (RFC 6455, client side) and the TLS
# policy. Only the link's writer task may call WsConn.write()/drain():
# MicroPython's asyncio allows one waiting writer per socket.

import json

try:
    import binascii
except ImportError:
    import ubinascii as binascii

try:
    import hashlib
except ImportError:
    hashlib = None

from bc_util import MPY, VERSION, asyncio, log, random_bytes

PROTOCOL = 'boardcast-board.v1'
WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


class HandshakeError(Exception):
    # status: the HTTP status when the server answered one (401 ...)
    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def parse_url(url):
    if url.startswith('ws://'):
        scheme, rest, port = 'ws', url[5:], 80
    elif url.startswith('wss://'):
        scheme, rest, port = 'wss', url[6:], 443
    else:
        raise ValueError('url must start with ws:// or wss://')
    slash = rest.find('/')
    hostport, path = (rest, '/') if slash < 0 else (rest[:slash], rest[slash:])
    colon = hostport.rfind(':')
    host = hostport
    if colon >= 0:
        host, digits = hostport[:colon], hostport[colon + 1:]
        port = int(digits) if digits.isdigit() else 0
    # Refused here (the config check calls this) rather than retried for
    # ever as DNS errors. IPv6 literals are not supported by the dialers.
    if not host or '[' in host or ':' in host or '@' in host or not 0 < port < 65536:
        raise ValueError('url needs a host name or IPv4 address and a port 1-65535')
    return scheme, host, port, path


def apply_mask(data, key):
    out = bytearray(data)
    for i in range(len(out)):
        out[i] ^= key[i & 3]
    return out


def encode_frame(opcode, payload, mask_key):
    """A single FIN frame; clients must mask (RFC 6455 5.3)."""
    n = len(payload)
    head = bytearray([0x80 | opcode])
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head.append(0x80 | 126)
        head.extend(n.to_bytes(2, 'big'))
    else:
        head.append(0x80 | 127)
        head.extend(n.to_bytes(8, 'big'))
    head.extend(mask_key)
    head.extend(apply_mask(payload, mask_key))
    return head


async def read_frame(reader, max_size):
    """Returns (fin, opcode, payload); server frames arrive unmasked."""
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), 'big')
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), 'big')
    if n > max_size:
        raise ValueError('frame of {} bytes exceeds max_frame'.format(n))
    key = await reader.readexactly(4) if head[1] & 0x80 else None
    payload = await reader.readexactly(n) if n else b''
    if key:
        payload = bytes(apply_mask(payload, key))
    return head[0] & 0x80, head[0] & 0x0F, payload


def sha256_hex(data):
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


def accept_key(key):
    if hashlib is None or not hasattr(hashlib, 'sha1'):
        return None
    return binascii.b2a_base64(hashlib.sha1((key + WS_GUID).encode()).digest()).decode().strip()


# A verify_callback pinning the server's own (depth 0) certificate; box[0]
# gets its digest. Non-zero is fatal to mbedTLS even in CERT_OPTIONAL.
def pin_check(pin, box):
    def check(cert, depth):
        if depth:
            return 0
        box[0] = sha256_hex(bytes(cert))
        return 0 if box[0] == pin else -0x3000
    return check


def tls_context(cfg, box=None):
    """The SSL context for wss://: verifies by default (CA file, or the system
    store on CPython); cert_sha256 is checked before any byte is sent
    (getpeercert, or verify_callback on MicroPython); tls_insecure: nothing."""
    import ssl
    verify = not (cfg['cert_sha256'] or cfg['tls_insecure'])
    if not MPY:
        if verify:
            return ssl.create_default_context(cafile=cfg['ca'])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=cfg['ca'])
    elif cfg['cert_sha256'] and box is not None:
        # CERT_NONE skips the callback; in CERT_OPTIONAL only the pin decides.
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.verify_callback = pin_check(cfg['cert_sha256'], box)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def peer_cert(writer):
    obj = None
    try:
        obj = writer.get_extra_info('ssl_object')  # CPython
    except (AttributeError, KeyError):  # MicroPython's Stream raises KeyError for unknown keys
        pass
    if obj is None:
        obj = getattr(writer, 's', None)  # MicroPython's Stream wraps the SSLSocket
    return obj.getpeercert(True) if obj is not None else None


async def default_opener(host, port, cfg):
    if not cfg['url'].startswith('wss://'):
        return await asyncio.open_connection(host, port)
    if not (MPY and cfg['cert_sha256']):
        return await asyncio.open_connection(host, port, ssl=tls_context(cfg), server_hostname=host)
    box = [None]
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=tls_context(cfg, box), server_hostname=host)
    except Exception:
        if box[0] is not None and box[0] != cfg['cert_sha256']:
            raise HandshakeError('TLS certificate sha256 {} does not match cert_sha256; token not sent'.format(box[0]))
        raise
    writer.pinned_sha256 = box[0]
    return reader, writer


def close_writer(writer, abort=True):
    """Close now. abort drops unsent bytes: CPython's close() would otherwise
    wait for a stalled peer to take them, keeping the socket open for ever."""
    try:
        tr = getattr(writer, 'transport', None)
        if abort and tr is not None:
            tr.abort()
        else:
            writer.close()
        s = getattr(writer, 's', None)
        if s is not None:
            s.close()  # MicroPython: Stream.close() alone leaves the socket open
    except Exception:
        pass


HEAD_LIMIT = 2048


async def read_head(reader, limit=HEAD_LIMIT):
    """The HTTP response head, byte by byte up to the blank line and never
    past it (the first frame may follow). Bounded: readline() would keep
    growing one line for a server that never ends it (not a WebSocket server,
    or a hostile one), and an ESP32 has no heap to spare."""
    head = bytearray()
    end = b'\r\n\r\n'
    matched = 0  # how much of `end` the last bytes match (MicroPython's bytearray has no endswith)
    while matched < 4:
        if len(head) >= limit:
            raise HandshakeError('response head longer than {} bytes: not a boardcast server'.format(limit))
        b = (await reader.readexactly(1))[0]
        head.append(b)
        matched = matched + 1 if b == end[matched] else (1 if b == 13 else 0)
    return bytes(head[:-4])


def build_handshake(host, port, path, key, token):
    lines = [
        'GET {} HTTP/1.1'.format(path),
        'Host: {}:{}'.format(host, port),
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: ' + key,
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Protocol: ' + PROTOCOL,
        'User-Agent: boardcast-agent/' + VERSION,
    ]
    if token:
        lines.append('Authorization: Bearer ' + token)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


async def ws_connect(cfg, opener=None):
    """Dial, verify, upgrade. The socket is closed on every failure."""
    scheme, host, port, path = parse_url(cfg['url'])
    reader, writer = await (opener or default_opener)(host, port, cfg)
    try:
        if scheme == 'wss' and cfg['cert_sha256']:
            got = getattr(writer, 'pinned_sha256', None)  # checked during the handshake (MicroPython)
            if got is None:
                der = peer_cert(writer)
                got = sha256_hex(der) if der else 'none'
            if got != cfg['cert_sha256']:
                raise HandshakeError('TLS certificate sha256 {} does not match cert_sha256; token not sent'.format(got))
        key = binascii.b2a_base64(random_bytes(16)).decode().strip()
        writer.write(build_handshake(host, port, path, key, cfg['token']))
        await writer.drain()
        lines = (await read_head(reader)).decode().split('\r\n')
        status = lines[0].strip()
        headers = {}
        for line in lines[1:]:
            colon = line.find(':')
            if colon > 0:
                headers[line[:colon].strip().lower()] = line[colon + 1:].strip()
        parts = status.split(' ')
        if len(parts) < 2 or parts[1] != '101':
            code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            if code == 401:
                raise HandshakeError('token refused (401)', 401)
            raise HandshakeError('server refused: ' + status, code)
        expected = accept_key(key)
        if expected is not None and headers.get('sec-websocket-accept') != expected:
            raise HandshakeError('bad Sec-WebSocket-Accept')
        if headers.get('sec-websocket-protocol') != PROTOCOL:
            raise HandshakeError('server did not accept ' + PROTOCOL)
    except BaseException:
        close_writer(writer)
        raise
    return WsConn(reader, writer, cfg['max_frame'])


class WsConn:
    """One upgraded connection. recv() is for the reader task only; write()
    and drain() for the writer task only; control replies (pong, close echo)
    go out through on_control so that they, too, pass the single writer."""

    def __init__(self, reader, writer, max_frame):
        self.reader = reader
        self.writer = writer
        self.max_frame = max_frame
        self.close_code = None
        self.on_control = None

    def write(self, opcode, payload):
        self.writer.write(encode_frame(opcode, payload, random_bytes(4)))

    async def drain(self):
        await self.writer.drain()

    async def recv(self):
        """The next text message as a decoded object, or None when the server closed."""
        parts = []
        size = 0
        while True:
            fin, opcode, payload = await read_frame(self.reader, self.max_frame)
            if opcode == 0x9:
                if self.on_control:
                    self.on_control(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                self.close_code = int.from_bytes(payload[:2], 'big') if len(payload) >= 2 else 1005
                if self.on_control:
                    self.on_control(0x8, payload[:2])
                return None
            parts.append(payload)
            size += len(payload)
            if size > self.max_frame:
                raise ValueError('message exceeds max_frame')
            if fin:
                data = parts[0] if len(parts) == 1 else b''.join(parts)
                parts = []
                size = 0
                try:
                    return json.loads(data)
                except Exception as e:
                    # Not only ValueError: CPython raises RecursionError for
                    # deep nesting, MicroPython may raise MemoryError. A bad
                    # frame is skipped; it must not end the session.
                    log('bad frame from server', type(e).__name__)

    def close(self):
        close_writer(self.writer)
