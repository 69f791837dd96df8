"""A strict stand-in for the `gpiod` Python bindings over the emulated kernel.

FAKE_GPIOD_API=1 gives the libgpiod 1.6 API (python3-libgpiod on Raspberry
Pi OS / Debian bookworm), FAKE_GPIOD_API=2 the libgpiod 2.x API (trixie).
Names, signatures and constants follow the real bindings; everything below
them is fakekernel.py, whose rules hold across processes. Where the real
bindings would fail (a busy line, a write to an input, a released request)
this one fails the same way, and it refuses what it cannot emulate rather
than pretending.
"""

import datetime
import errno
import os

import fakekernel as _k

_API = os.environ.get("FAKE_GPIOD_API", "2")
if _API not in ("1", "2"):
    raise ImportError("FAKE_GPIOD_API must be 1 or 2")


def _open_chip_name(desc):
    name = _k.chip_for_path(desc)
    if name is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(desc))
    return name


if _API == "2":
    from dataclasses import dataclass, field
    from enum import Enum

    from . import line
    from .line import Bias, Clock, Direction, Drive, Edge, Value

    __version__ = "2.2.1"
    api_version = "2.2.1"

    class ChipClosedError(Exception):
        def __init__(self):
            Exception.__init__(self, "I/O operation on closed chip")

    class RequestReleasedError(Exception):
        def __init__(self):
            Exception.__init__(self, "GPIO lines have been released")

    def is_gpiochip_device(path):
        return os.path.isabs(str(path)) and _k.chip_for_path(path) is not None

    @dataclass(frozen=True, repr=False)
    class ChipInfo:
        name: str
        label: str
        num_lines: int

    @dataclass(frozen=True, repr=False)
    class LineInfo:
        offset: int
        name: str
        used: bool
        consumer: str
        direction: Direction
        active_low: bool
        bias: Bias
        drive: Drive
        edge_detection: Edge
        event_clock: Clock
        debounced: bool
        debounce_period: datetime.timedelta

    @dataclass
    class LineSettings:
        direction: Direction = Direction.AS_IS
        edge_detection: Edge = Edge.NONE
        bias: Bias = Bias.AS_IS
        drive: Drive = Drive.PUSH_PULL
        active_low: bool = False
        debounce_period: datetime.timedelta = field(default_factory=datetime.timedelta)
        event_clock: Clock = Clock.MONOTONIC
        output_value: Value = Value.INACTIVE

    @dataclass(frozen=True, repr=False)
    class EdgeEvent:
        class Type(Enum):
            RISING_EDGE = 1
            FALLING_EDGE = 2

        event_type: "EdgeEvent.Type"
        timestamp_ns: int
        line_offset: int
        global_seqno: int
        line_seqno: int

    def _cfg(settings, consumer, previous=None):
        s = settings or LineSettings()
        for attr, kind in (("direction", Direction), ("edge_detection", Edge), ("bias", Bias), ("drive", Drive),
                           ("event_clock", Clock), ("output_value", Value)):
            if not isinstance(getattr(s, attr), kind):
                raise TypeError("%s must be a gpiod.line.%s" % (attr, kind.__name__))
        if not isinstance(s.debounce_period, datetime.timedelta):
            raise TypeError("debounce_period must be a datetime.timedelta")
        if s.edge_detection != Edge.NONE and s.direction == Direction.OUTPUT:
            raise OSError(errno.EINVAL, "edge detection needs an input")
        direction = s.direction
        if direction == Direction.AS_IS:
            direction = Direction.OUTPUT if previous and previous["direction"] == "output" else Direction.INPUT
        bias = {Bias.PULL_UP: "pull-up", Bias.PULL_DOWN: "pull-down", Bias.DISABLED: "disabled"}.get(s.bias, "as-is")
        edge = {Edge.RISING: "rising", Edge.FALLING: "falling", Edge.BOTH: "both"}.get(s.edge_detection, "none")
        value = s.output_value.value ^ (1 if s.active_low else 0)
        return {
            "consumer": consumer or "?",
            "direction": "output" if direction == Direction.OUTPUT else "input",
            "value": value,
            "bias": bias,
            "edge": edge,
            "active_low": bool(s.active_low),
            "debounce_ms": s.debounce_period.total_seconds() * 1000.0,
        }

    class LineRequest:
        def __init__(self, chip_name, handles, consumer, names):
            self._handles = handles
            self._chip_name = chip_name
            self._consumer = consumer
            self._names = names
            self._seq = 0
            self._line_seq = {}

        def __enter__(self):
            self._check()
            return self

        def __exit__(self, *exc):
            self.release()

        def __bool__(self):
            return self._handles is not None

        def _check(self):
            if self._handles is None:
                raise RequestReleasedError()

        def _handle(self, line):
            self._check()
            if isinstance(line, str):
                if line not in self._names:
                    raise ValueError("unknown line name: {}".format(line))
                line = self._names[line]
            if line not in self._handles:
                raise ValueError("line %r is not part of this request" % (line,))
            return self._handles[line]

        @property
        def offsets(self):
            self._check()
            return list(self._handles)

        @property
        def chip_name(self):
            self._check()
            return self._chip_name

        @property
        def fd(self):
            self._check()
            if len(self._handles) != 1:
                raise NotImplementedError("emulated chip: one line per request")
            return next(iter(self._handles.values())).fileno()

        def fileno(self):
            return self.fd

        def release(self):
            self._check()
            for h in self._handles.values():
                h.release()
            self._handles = None

        def get_value(self, line):
            h = self._handle(line)
            cfg = h.config()
            return Value(h.get_physical() ^ (1 if cfg["active_low"] else 0))

        def get_values(self, lines=None):
            return [self.get_value(x) for x in (lines or self.offsets)]

        def set_value(self, line, value):
            self.set_values({line: value})

        def set_values(self, values):
            for line, value in values.items():
                if not isinstance(value, Value):
                    raise TypeError("value must be a gpiod.line.Value")
                h = self._handle(line)
                h.set_physical(value.value ^ (1 if h.config()["active_low"] else 0))

        def reconfigure_lines(self, config):
            self._check()
            for key, settings in config.items():
                keys = key if isinstance(key, (tuple, list)) else [key]
                for line in keys:
                    h = self._handle(line)
                    h.configure(_cfg(settings, self._consumer, h.config()))

        def wait_edge_events(self, timeout=None):
            if isinstance(timeout, datetime.timedelta):
                timeout = timeout.total_seconds()
            return next(iter(self._handles.values())).wait(timeout) if self._handles else False

        def read_edge_events(self, max_events=None):
            self._check()
            out = []
            for offset, h in self._handles.items():
                for raw in h.read_events():
                    self._seq += 1
                    self._line_seq[offset] = self._line_seq.get(offset, 0) + 1
                    kind = EdgeEvent.Type.RISING_EDGE if raw["rising"] else EdgeEvent.Type.FALLING_EDGE
                    out.append(EdgeEvent(kind, raw["ns"], offset, self._seq, self._line_seq[offset]))
            return out[:max_events] if max_events else out

    class Chip:
        def __init__(self, path):
            self._name = _open_chip_name(path)
            if not os.path.isabs(str(path)):
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
            self._path = path
            self._open = True

        def __enter__(self):
            self._check()
            return self

        def __exit__(self, *exc):
            self.close()

        def _check(self):
            if not self._open:
                raise ChipClosedError()

        def close(self):
            self._check()
            self._open = False

        @property
        def path(self):
            self._check()
            return self._path

        def _table(self):
            return _k.chips()[self._name]

        def get_info(self):
            self._check()
            t = self._table()
            return ChipInfo(self._name, t["label"], len(t["names"]))

        def line_offset_from_id(self, id):
            self._check()
            names = self._table()["names"]
            if isinstance(id, str):
                if id in names:
                    return names.index(id)
                try:
                    id = int(id)
                except ValueError:
                    raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
            if not 0 <= id < len(names):
                raise ValueError("line offset of out range")
            return id

        def get_line_info(self, line):
            offset = self.line_offset_from_id(line)
            with _k.mutex():
                cfg = _k.config(self._name, offset)
            name = self._table()["names"][offset]
            if cfg is None:
                return LineInfo(offset, name, False, "", Direction.INPUT, False, Bias.UNKNOWN, Drive.PUSH_PULL,
                                Edge.NONE, Clock.MONOTONIC, False, datetime.timedelta(0))
            return LineInfo(offset, name, True, cfg["consumer"],
                            Direction.OUTPUT if cfg["direction"] == "output" else Direction.INPUT,
                            cfg["active_low"], Bias.AS_IS, Drive.PUSH_PULL, Edge.NONE, Clock.MONOTONIC,
                            cfg["debounce_ms"] > 0, datetime.timedelta(milliseconds=cfg["debounce_ms"]))

        def request_lines(self, config, consumer=None, event_buffer_size=None, output_values=None):
            self._check()
            handles = {}
            names = {}
            try:
                for key, settings in config.items():
                    keys = key if isinstance(key, (tuple, list)) else [key]
                    for line in keys:
                        offset = self.line_offset_from_id(line)
                        if offset in handles:
                            raise ValueError("line must be configured exactly once - offset %d repeats" % offset)
                        if isinstance(line, str):
                            names[line] = offset
                        cfg = _cfg(settings, consumer)
                        if output_values and (line in output_values or offset in output_values):
                            v = output_values.get(line, output_values.get(offset))
                            cfg["value"] = v.value ^ (1 if cfg["active_low"] else 0)
                        handles[offset] = _k.Handle(self._name, offset, cfg)
            except BaseException:
                for h in handles.values():
                    h.release()
                raise
            return LineRequest(self._name, handles, consumer, names)

    def request_lines(path, *args, **kwargs):
        with Chip(path) as chip:
            return chip.request_lines(*args, **kwargs)

else:
    __version__ = "1.6.3"

    LINE_REQ_DIR_AS_IS = 1
    LINE_REQ_DIR_IN = 2
    LINE_REQ_DIR_OUT = 3
    LINE_REQ_EV_FALLING_EDGE = 4
    LINE_REQ_EV_RISING_EDGE = 5
    LINE_REQ_EV_BOTH_EDGES = 6
    LINE_REQ_FLAG_OPEN_DRAIN = 1
    LINE_REQ_FLAG_OPEN_SOURCE = 2
    LINE_REQ_FLAG_ACTIVE_LOW = 4
    LINE_REQ_FLAG_BIAS_DISABLE = 8
    LINE_REQ_FLAG_BIAS_PULL_DOWN = 16
    LINE_REQ_FLAG_BIAS_PULL_UP = 32

    def version_string():
        return __version__

    class LineEvent(object):
        RISING_EDGE = 1
        FALLING_EDGE = 2

        def __init__(self, type, ns, source):
            self.type = type
            self.sec = ns // 1000000000
            self.nsec = ns % 1000000000
            self.source = source

    class Line(object):
        DIRECTION_INPUT = 1
        DIRECTION_OUTPUT = 2
        ACTIVE_HIGH = 1
        ACTIVE_LOW = 2
        BIAS_AS_IS = 1
        BIAS_DISABLE = 2
        BIAS_PULL_UP = 3
        BIAS_PULL_DOWN = 4

        def __init__(self, chip, offset):
            self._chip = chip
            self._offset = offset
            self._handle = None
            self._events = False

        def offset(self):
            return self._offset

        def name(self):
            return self._chip._names()[self._offset] or None

        def owner(self):
            return self._chip

        def _cfg(self):
            with _k.mutex():
                return _k.config(self._chip._name, self._offset)

        def consumer(self):
            cfg = self._cfg()
            return cfg["consumer"] if cfg else None

        def is_used(self):
            return self._cfg() is not None

        def is_requested(self):
            return self._handle is not None

        def direction(self):
            cfg = self._cfg()
            return Line.DIRECTION_OUTPUT if cfg and cfg["direction"] == "output" else Line.DIRECTION_INPUT

        def active_state(self):
            cfg = self._cfg()
            return Line.ACTIVE_LOW if cfg and cfg["active_low"] else Line.ACTIVE_HIGH

        def bias(self):
            return Line.BIAS_AS_IS

        def update(self):
            return None

        def request(self, consumer, type=LINE_REQ_DIR_AS_IS, flags=0, default_val=None, default_vals=None):
            if self._handle is not None:
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
            if type not in (1, 2, 3, 4, 5, 6):
                raise ValueError("invalid request type")
            active_low = bool(flags & LINE_REQ_FLAG_ACTIVE_LOW)
            bias = "as-is"
            if flags & LINE_REQ_FLAG_BIAS_PULL_UP:
                bias = "pull-up"
            elif flags & LINE_REQ_FLAG_BIAS_PULL_DOWN:
                bias = "pull-down"
            elif flags & LINE_REQ_FLAG_BIAS_DISABLE:
                bias = "disabled"
            value = default_val if default_val is not None else (default_vals[0] if default_vals else 0)
            edge = {4: "falling", 5: "rising", 6: "both"}.get(type, "none")
            cfg = {
                "consumer": consumer,
                "direction": "output" if type == LINE_REQ_DIR_OUT else "input",
                "value": (1 if value else 0) ^ (1 if active_low else 0),
                "bias": bias,
                "edge": edge,
                "active_low": active_low,
                "debounce_ms": 0,  # the v1 uAPI has no debounce
            }
            self._handle = _k.Handle(self._chip._name, self._offset, cfg)
            self._events = edge != "none"

        def release(self):
            if self._handle is not None:
                self._handle.release()
                self._handle = None

        def _req(self):
            if self._handle is None:
                raise OSError(errno.EPERM, os.strerror(errno.EPERM))
            return self._handle

        def get_value(self):
            h = self._req()
            return h.get_physical() ^ (1 if h.config()["active_low"] else 0)

        def set_value(self, value):
            h = self._req()
            if self._events:
                raise OSError(errno.EPERM, os.strerror(errno.EPERM))
            h.set_physical((1 if value else 0) ^ (1 if h.config()["active_low"] else 0))

        def set_config(self, direction, flags, value=0):
            if self._events:
                raise OSError(errno.EPERM, "cannot reconfigure an event request")
            raise OSError(errno.EOPNOTSUPP, "emulated chip: release and request again")

        def event_get_fd(self):
            if not self._events:
                raise OSError(errno.EPERM, os.strerror(errno.EPERM))
            return self._req().fileno()

        def event_wait(self, sec=0, nsec=0):
            return self._req().wait(sec + nsec / 1e9)

        def event_read_multiple(self):
            if not self._events:
                raise OSError(errno.EPERM, os.strerror(errno.EPERM))
            return [LineEvent(LineEvent.RISING_EDGE if r["rising"] else LineEvent.FALLING_EDGE, r["ns"], self)
                    for r in self._req().read_events()]

        def event_read(self):
            while True:
                events = self.event_read_multiple()
                if events:
                    return events[0]
                self.event_wait(1)

    class Chip(object):
        OPEN_LOOKUP = 1
        OPEN_BY_NAME = 2
        OPEN_BY_PATH = 3
        OPEN_BY_LABEL = 4
        OPEN_BY_NUMBER = 5

        def __init__(self, desc, how=OPEN_LOOKUP):
            if how == Chip.OPEN_BY_PATH and not os.path.isabs(str(desc)):
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(desc))
            self._name = _open_chip_name(desc)
            self._lines = {}
            self._open = True

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

        def _names(self):
            return _k.chips()[self._name]["names"]

        def close(self):
            self._open = False

        def name(self):
            return self._name

        def label(self):
            return _k.chips()[self._name]["label"]

        def num_lines(self):
            return len(self._names())

        def get_line(self, offset):
            if not 0 <= offset < self.num_lines():
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            if offset not in self._lines:
                self._lines[offset] = Line(self, offset)
            return self._lines[offset]

        def find_line(self, name):
            names = self._names()
            return self.get_line(names.index(name)) if name in names else None

    class ChipIter(object):
        def __init__(self):
            self._names = sorted(_k.chips(), key=lambda n: int(n[8:]))

        def __iter__(self):
            return self

        def __next__(self):
            if not self._names:
                raise StopIteration
            return Chip(self._names.pop(0), Chip.OPEN_BY_NAME)

    def find_line(name):
        for chip in ChipIter():
            line = chip.find_line(name)
            if line is not None:
                return line
        return None
