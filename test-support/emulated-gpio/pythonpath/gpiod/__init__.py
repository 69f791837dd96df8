"""A strict stand-in for the `gpiod` Python bindings over the emulated kernel.

The libgpiod 2.x API (python3-libgpiod on trixie) only: libgpiod 1.6 runs for
real over the uAPI v1 emulation (../uapi-v1), and no 2.x binding installs on
bookworm, so this double stands in for it.
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
if _API != "2":
    raise ImportError("FAKE_GPIOD_API must be 2: the v1 API runs on the real python3-libgpiod (uapi-v1/)")


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
        def __init__(self, chip_name, handles, consumer, names, event_buffer_size=None):
            self._handles = handles
            self._capacity = event_buffer_size or 16 * len(handles)
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
            # The v2 kernel keeps event_buffer_size events per request (default
            # 16 per line) and, when full, drops the OLDEST (kfifo_skip before
            # kfifo_in); sequence numbers are given as edges happen, so a gap
            # in line_seqno is how a reader sees the loss. Reading every queued
            # datagram and keeping the newest `capacity` is the same outcome.
            self._check()
            out = []
            for offset, h in self._handles.items():
                raws = h.read_events()
                for index, raw in enumerate(raws):
                    self._seq += 1
                    self._line_seq[offset] = self._line_seq.get(offset, 0) + 1
                    if index < len(raws) - self._capacity:
                        continue  # dropped by the kernel: numbered, never delivered
                    kind = EdgeEvent.Type.RISING_EDGE if raw["rising"] else EdgeEvent.Type.FALLING_EDGE
                    out.append(EdgeEvent(kind, raw["ns"], offset, self._seq, self._line_seq[offset]))
            if max_events is not None and len(out) > max_events:
                raise NotImplementedError("emulated chip: read_edge_events(max_events) smaller than the queue")
            return out

    class Chip:
        def __init__(self, path):
            self._name = _open_chip_name(path)
            if not os.path.isabs(str(path)):
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
            self._path = path
            self._open = True

        def __bool__(self):
            # As the real Chip: true while open, false once closed (`if chip:` guards a close).
            return self._open

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
                with _k.mutex():
                    out = _k.kept(self._name, offset) is not None
                return LineInfo(offset, name, False, "", Direction.OUTPUT if out else Direction.INPUT, False,
                                Bias.UNKNOWN, Drive.PUSH_PULL,
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
            return LineRequest(self._name, handles, consumer, names, event_buffer_size)

    def request_lines(path, *args, **kwargs):
        with Chip(path) as chip:
            return chip.request_lines(*args, **kwargs)

