# boardcast board agent: entry point and command line. The agent is this
# folder (boardcast_agent.py + bc_*.py): copy all of it to the board, or
# precompile it with mpy-cross (see README). MicroPython (ESP32, Pico W) and
# CPython 3.9+ (Raspberry Pi, a PC with the simulated backend).
#
#   python3 boardcast_agent.py --help
#   python3 boardcast_agent.py --config board.json
#   import boardcast_agent; boardcast_agent.main(CONFIG)   # MicroPython main.py

import sys

USAGE = '''usage: boardcast_agent.py [--config FILE.json] [--KEY VALUE ...] [--stdin-control] [--tls-insecure]

Dials a boardcast server (WebSocket subprotocol boardcast-board.v1) and
serves this board's pins: answers write/read/mode requests, reports input
edges and sensor readings, reconnects with backoff.

Common keys (--some-key VALUE or "some_key" in the JSON file):
  id              board id (letters, digits, _ . : -)          default board
  url             ws://HOST:PORT/PATH or wss://...            default ws://127.0.0.1:3000/board
  token           bearer token the server expects
  backend         auto | sim | machine | lgpio                 default auto (machine on
                  MicroPython, lgpio on CPython; on a PC use sim, the simulated board)
  ca              CA certificate file that signed the server's certificate (wss://)
  cert_sha256     or: the server certificate's SHA-256 fingerprint (hex) to pin
  tls_insecure    true: wss:// without verification (sends the token to anyone)
  heartbeat_ms, missed_heartbeats, poll_ms, debounce_ms, backoff_min_ms, backoff_max_ms,
  stable_ms, conflict_backoff_ms, conflict_backoff_max_ms, connect_timeout_ms, send_queue,
  irq_ring, irq, stall_ms, watchdog_s, hw_watchdog_ms, max_frame, chip
pins and sensors are lists of objects and need a --config file; see README.md.
Exit codes: 0 stopped, 2 configuration error, 3 watchdog reboot (let systemd restart it).'''


def parse_argv(argv):
    """--key value pairs (dashes become underscores); --config FILE is read first."""
    import json
    from bc_config import SPEC, ConfigError
    config = {}
    given = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ('-h', '--help'):
            return None
        if not arg.startswith('--'):
            raise ConfigError('argument ' + repr(arg), 'an option like --url ws://host:3000/board')
        name = arg[2:].replace('-', '_')
        if name not in SPEC and name != 'config':
            raise ConfigError(arg, 'a known option (see --help); unknown option')
        kind = SPEC[name][1] if name in SPEC else 'str'
        if kind == 'bool':
            given[name] = True
            i += 1
            continue
        if i + 1 >= len(argv):
            raise ConfigError(arg, 'followed by a value')
        value = argv[i + 1]
        if name == 'config':
            try:
                with open(value) as f:
                    config = json.load(f)
            except OSError as e:
                raise ConfigError('--config', 'a readable JSON file ({})'.format(e))
            except ValueError as e:
                raise ConfigError('--config', 'a JSON file ({})'.format(e))
            if not isinstance(config, dict):
                raise ConfigError('config file ' + value, 'a JSON object {...}', config)
        elif kind.rstrip('?') in ('int', 'pos'):
            try:
                given[name] = int(value)
            except ValueError:
                raise ConfigError(arg, 'an integer', value)
        elif kind.rstrip('?') in ('list', 'dict'):
            raise ConfigError(arg, 'set in a --config JSON file')
        else:
            given[name] = value
        i += 2
    config.update(given)
    return config


def start_stdin_reader(agent):
    # CPython only: a thread feeds stdin lines to the (single-threaded) loop.
    try:
        import threading
    except ImportError:
        return

    def pump():
        for line in sys.stdin:
            agent.control.append(line)
        agent.control.append('quit')

    t = threading.Thread(target=pump)
    t.daemon = True
    t.start()


def main(config=None, argv=None):
    from bc_config import ConfigError
    from bc_util import asyncio, log
    try:
        if config is None:
            config = parse_argv(sys.argv[1:] if argv is None else argv)
            if config is None:
                print(USAGE)
                return 0
        from bc_agent import Agent
        agent = Agent(config)
    except ConfigError as e:
        if sys.implementation.name == 'micropython' and argv is None and config is not None:
            raise  # on a board, let main.py's caller see it
        print(str(e), file=sys.stderr)
        return 2
    cfg = agent.cfg
    log('starting', cfg['id'], 'backend', agent.backend.name, 'url', cfg['url'])
    if cfg['stdin_control']:
        start_stdin_reader(agent)
    try:
        import signal
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.stop)
        loop.run_until_complete(agent.run())
        loop.close()
    except (ImportError, AttributeError):  # MicroPython: no signal handlers
        asyncio.run(agent.run())
    log('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
