# boardcast agent: configuration defaults and validation. Every error names
# the key and the expected type (ConfigError); the CLI turns it into one line
# and exit code 2.

from bc_util import MPY
from bc_ws import parse_url

DIGITAL_MODES = ('input', 'input_pullup', 'input_pulldown', 'output')
ALL_MODES = DIGITAL_MODES + ('analog',)
BACKENDS = ('auto', 'sim', 'machine', 'lgpio')
# Sensor kinds and where they exist (see README "Sensors").
SENSOR_KINDS = ('adc', 'mcu_temperature', 'linux_thermal', 'sim')

# key: (default, kind). Kinds: int (>= 0), pos (> 0), bool, str, list, and
# '?'-suffixed ones that may also be None.
SPEC = {
    'id': ('board', 'str'),
    'url': ('ws://127.0.0.1:3000/board', 'str'),
    'token': ('', 'str'),
    'backend': ('auto', 'str'),
    'pins': ([], 'list'),
    'sensors': ([], 'list'),
    'heartbeat_ms': (5000, 'pos'),
    'missed_heartbeats': (3, 'pos'),
    'poll_ms': (10, 'pos'),
    'debounce_ms': (20, 'int'),
    'backoff_min_ms': (500, 'pos'),
    'backoff_max_ms': (30000, 'pos'),
    'stable_ms': (30000, 'int'),
    'conflict_backoff_ms': (30000, 'pos'),
    'conflict_backoff_max_ms': (300000, 'pos'),
    'connect_timeout_ms': (10000, 'pos'),
    'send_queue': (64, 'pos'),
    'irq_ring': (64, 'pos'),
    'stall_ms': (0, 'int'),
    'watchdog_s': (0, 'int'),
    'hw_watchdog_ms': (0, 'int'),
    'max_frame': (4096, 'pos'),
    'stdin_control': (False, 'bool'),
    'irq': (True, 'bool'),
    'wifi': (None, 'dict?'),
    'chip': (None, 'int?'),
    'ca': (None, 'str?'),
    'cert_sha256': (None, 'str?'),
    'tls_insecure': (False, 'bool'),
}

EXPECT = {
    'int': 'an integer >= 0', 'pos': 'an integer > 0', 'bool': 'true or false', 'str': 'a string',
    'list': 'a list', 'dict?': 'an object or null', 'int?': 'an integer or null', 'str?': 'a string or null',
}


# MicroPython: True where SSLContext has verify_callback (1.23+, mbedTLS
# ports); cert_sha256 is checked with it: most ports lack getpeercert.
def pin_callback_supported():
    try:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_callback  # noqa: B018 -- AttributeError where the build lacks it
        return True
    except Exception:
        return False


class ConfigError(ValueError):
    def __init__(self, key, expected, got=None):
        msg = 'config error: {} must be {}'.format(key, expected)
        if got is not None:
            msg += ' (got {})'.format(describe(got))
        super().__init__(msg)  # MicroPython has no ValueError.__init__ to call
        self.key = key


def describe(value):
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + '...'
    return '{} {}'.format(type(value).__name__, text)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_kind(key, value, kind):
    if value is None and kind.endswith('?'):
        return
    base = kind.rstrip('?')
    ok = False
    if base == 'int':
        ok = is_int(value) and value >= 0
    elif base == 'pos':
        ok = is_int(value) and value > 0
    elif base == 'bool':
        ok = isinstance(value, bool)
    elif base == 'str':
        ok = isinstance(value, str)
    elif base == 'list':
        ok = isinstance(value, list)
    elif base == 'dict':
        ok = isinstance(value, dict)
    if not ok:
        raise ConfigError(key, EXPECT[kind], value)


ID_FIRST = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'


def check_id(value):
    # ASCII only, as the server checks it: str.isalpha() also passed 'küche'
    # or a Cyrillic 'е', which the server refuses at every hello, for ever.
    ok = 0 < len(value) <= 64 and value[0] in ID_FIRST
    for ch in value:
        if not (ch in ID_FIRST or ch in '_.:-'):
            ok = False
    if not ok:
        raise ConfigError('id', '1-64 ASCII letters, digits, "_", ".", ":" or "-"', value)


def check_pin(i, entry, backend):
    where = 'pins[{}]'.format(i)
    if not isinstance(entry, dict):
        raise ConfigError(where, 'an object like {"pin": 5, "mode": "output"}', entry)
    pin = entry.get('pin')
    if not ((is_int(pin) and pin >= 0) or (isinstance(pin, str) and pin)):
        raise ConfigError(where + '.pin', 'an integer >= 0 or a pin name', pin)
    mode = entry.get('mode', 'input')
    if mode not in ALL_MODES:
        raise ConfigError(where + '.mode', 'one of ' + ', '.join(ALL_MODES), mode)
    modes = entry.get('modes')
    if modes is None:
        modes = list(DIGITAL_MODES)
        if mode == 'analog' or entry.get('analog'):
            modes.append('analog')
    elif not isinstance(modes, list) or [m for m in modes if m not in ALL_MODES]:
        raise ConfigError(where + '.modes', 'a list of ' + ', '.join(ALL_MODES), modes)
    if mode not in modes:
        raise ConfigError(where + '.mode', 'one of its modes ' + ', '.join(modes), mode)
    item = {'pin': pin, 'mode': mode, 'modes': modes, 'active_low': False, 'release': 'off'}
    for key, kind in (('name', 'str'), ('debounce_ms', 'int'), ('active_low', 'bool')):
        if key in entry:
            check_kind('{}.{}'.format(where, key), entry[key], kind)
            item[key] = entry[key]
    if entry.get('release', 'off') not in ('off', 'keep'):
        raise ConfigError(where + '.release', '"off" (drive the output inactive when the agent stops) or "keep"',
                          entry.get('release'))
    item['release'] = entry.get('release', 'off')
    return item


def check_sensor(i, entry, backend):
    where = 'sensors[{}]'.format(i)
    if not isinstance(entry, dict):
        raise ConfigError(where, 'an object like {"name": "light", "kind": "adc", "pin": 34}', entry)
    check_kind(where + '.name', entry.get('name'), 'str')
    kind = entry.get('kind', 'sim' if backend == 'sim' else 'adc')
    if kind in ('hall', 'temperature'):
        # esp32.hall_sensor() was removed in MicroPython 1.21.
        raise ConfigError(where + '.kind', 'one of ' + ', '.join(SENSOR_KINDS) +
                          ' ("hall" is gone since MicroPython 1.21; "temperature" is now "mcu_temperature")', kind)
    if kind not in SENSOR_KINDS:
        raise ConfigError(where + '.kind', 'one of ' + ', '.join(SENSOR_KINDS), kind)
    item = dict(entry)
    item['kind'] = kind
    if kind == 'adc' and backend != 'sim':
        pin = entry.get('pin')
        if not ((is_int(pin) and pin >= 0) or isinstance(pin, str)):
            raise ConfigError(where + '.pin', 'an ADC pin number (kind adc)', pin)
    for key in ('interval_ms', 'period_ms'):
        if key in entry:
            check_kind(where + '.' + key, entry[key], 'int')
    for key in ('scale', 'offset', 'min', 'max'):
        v = entry.get(key, 0)
        # Finite: Python's json reads NaN and Infinity, and a NaN reading is
        # sent as the non-JSON token NaN, which the server refuses frame after frame.
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and -1e300 < v < 1e300):
            raise ConfigError(where + '.' + key, 'a finite number', v)
    return item


def load(config):
    """Defaults + config, validated. Raises ConfigError naming the first bad key."""
    if not isinstance(config, dict):
        raise ConfigError('config', 'an object (JSON {...} or a Python dict)', config)
    cfg = {}
    for key in SPEC:
        cfg[key] = SPEC[key][0]
    for key in config:
        if key not in SPEC:
            raise ConfigError(repr(key), 'one of the known keys (see --help); unknown key')
        check_kind(key, config[key], SPEC[key][1])
        cfg[key] = config[key]
    check_id(cfg['id'])
    url = cfg['url']
    try:
        parse_url(url)
    except ValueError:
        raise ConfigError('url', 'a ws:// or wss:// URL with a host (name or IPv4) and an optional port', url)
    if cfg['backend'] not in BACKENDS:
        raise ConfigError('backend', 'one of ' + ', '.join(BACKENDS), cfg['backend'])
    if cfg['backoff_max_ms'] < cfg['backoff_min_ms']:
        raise ConfigError('backoff_max_ms', 'an integer >= backoff_min_ms', cfg['backoff_max_ms'])
    if cfg['hw_watchdog_ms'] and cfg['hw_watchdog_ms'] < 2000:
        raise ConfigError('hw_watchdog_ms', '0 (off) or at least 2000', cfg['hw_watchdog_ms'])
    pin = cfg['cert_sha256']
    if pin is not None:
        pin = pin.replace(':', '').lower()
        if len(pin) != 64 or [c for c in pin if c not in '0123456789abcdef']:
            raise ConfigError('cert_sha256', 'the SHA-256 fingerprint as 64 hex digits (colons allowed)', cfg['cert_sha256'])
        cfg['cert_sha256'] = pin
        if MPY and url.startswith('wss://') and not pin_callback_supported():
            # Without SSLContext.verify_callback the pin could only be checked
            # with SSLSocket.getpeercert, which most ports lack: every dial
            # would fail (safe, but for ever). Say so now instead.
            raise ConfigError('cert_sha256', 'supported on MicroPython 1.23+ with mbedTLS (SSLContext.verify_callback); '
                              'on this build set ca to the server certificate instead (a self-signed certificate '
                              'is then the only trust anchor)', cfg['cert_sha256'])
    if cfg['ca'] is not None:
        # Read at every dial; a missing file found only then would be retried
        # for ever as a "disconnected" line instead of stopping here.
        try:
            open(cfg['ca']).close()
        except OSError:
            raise ConfigError('ca', 'a readable PEM file', cfg['ca'])
        if not MPY:
            import ssl
            try:
                ssl.create_default_context(cafile=cfg['ca'])
            except ssl.SSLError:
                raise ConfigError('ca', 'a PEM file holding CA certificates', cfg['ca'])
    if url.startswith('wss://') and MPY and not (cfg['ca'] or pin or cfg['tls_insecure']):
        # MicroPython has no system CA store: without one of these nothing is verified.
        raise ConfigError('ca', 'a CA certificate file for wss:// on MicroPython (or set cert_sha256)')
    wifi = cfg['wifi']
    if wifi is not None and not isinstance(wifi.get('ssid'), str):
        raise ConfigError('wifi.ssid', 'a string', wifi.get('ssid'))
    cfg['pins'] = [check_pin(i, p, cfg['backend']) for i, p in enumerate(cfg['pins'])]
    cfg['sensors'] = [check_sensor(i, s, cfg['backend']) for i, s in enumerate(cfg['sensors'])]
    # One entry per pin and per sensor name: a second one silently replaced
    # the first in the agent's tables while the hello announced both.
    unique([str(p['pin']) for p in cfg['pins']], 'pins', 'pin')
    unique([s['name'] for s in cfg['sensors']], 'sensors', 'name')
    return cfg


def unique(keys, where, field):
    seen = {}
    for i, key in enumerate(keys):
        if key in seen:
            raise ConfigError('{}[{}].{}'.format(where, i, field),
                              'different from {}[{}].{}'.format(where, seen[key], field), key)
        seen[key] = i
