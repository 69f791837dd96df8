#!/usr/bin/env python3
"""boardcast GPIO helper: one long-lived process per LinuxGpioBoard.

It holds every GPIO line the board uses for the board's whole lifetime (so an
output never has a released window between two writes) through the `gpiod`
Python bindings of the distribution: `python3-libgpiod` 1.6 (Raspberry Pi OS
and Debian bookworm) or 2.x (trixie, Fedora). Nothing to compile.

Protocol: the board protocol's frames (boardcast-board.v1, the ones the
board agent speaks over its WebSocket; protocol/board-frames.json holds the
shared examples), as newline-delimited JSON on stdin (requests) and stdout
(results and events), written with os.write so nothing sits in a stdio buffer.
Two requests are the helper's own: `open` (which lines, instead of the
agent's config file) and `close`.

  -> {"type": "open", "id": 1, "pins": [17, "GPIO27", "ID_SDA"], "consumer": "boardcast", "chip": null}
  <- {"type": "result", "id": 1, "ok": true, "value": {"api": 1, "version": "1.6.3", "lines": [{"chip": "gpiochip4", "label": "pinctrl-rp1", "offset": 17, "name": "GPIO17"}, ...]}}
  <- {"type": "hello", "id": "boardcast", "firmware": "boardcast-gpio-helper python3-libgpiod 1.6.3", "pins": [{"pin": 17, "modes": [...], "name": "GPIO17"}, ...], "sensors": []}
  -> {"type": "mode", "id": 2, "pin": 17, "mode": "output", "initial": 0, "release": 0}
     release: level the output is driven to before the line is released when
     the helper ends (close, stdin closed, SIGTERM, parent died); "keep"
     leaves it as it is. Default: the initial level.
  <- {"type": "result", "id": 2, "ok": true, "value": "output"}
  -> {"type": "write", "id": 3, "pin": 17, "value": 1}      answered after the kernel took it
  <- {"type": "result", "id": 3, "ok": true, "value": 1}
  -> {"type": "read", "id": 4, "pin": 27}
  -> {"type": "watch", "id": 5, "pin": 27, "edge": "both", "debounceMs": 20}   result value: the level now
  -> {"type": "unwatch", "id": 6, "pin": 27}
  <- {"type": "edge", "pin": 27, "value": 0, "ns": "123456789"}   kernel timestamp, CLOCK_MONOTONIC
  <- {"type": "overflow", "pin": 27, "dropped": 25}   the kernel's queue lost edges (null: how many is unknown)
  <- {"type": "error", "error": {"code": "handler_failed", "message": "..."}}   nobody's request
  -> {"type": "close", "id": 7}                                 releases everything and exits
  <- {"type": "result", "id": n, "ok": false, "error": {"code": "busy", "message": "...", "details": {...}}}

Pin numbers are BCM GPIO numbers: the line at that offset of the Raspberry
Pi's GPIO chip, found by its label (pinctrl-rp1 on a Pi 5, pinctrl-bcm2711 on
a Pi 4, pinctrl-bcm2835 before). Strings are line names.

The helper exits when its standard input closes and, through
PR_SET_PDEATHSIG, when its parent dies, so a crashed server never leaves a
line held. Before it releases an output it drives the output's release level
(a released line keeps whatever it was driving: Raspberry Pi kernels leave the
pad alone). Killed with SIGKILL it can do nothing: the kernel releases its
lines and each output keeps its last level.

A reported level is never stale: the kernel's edge queue can overflow (v1
keeps 16 events per line and drops the newest, v2 a buffer that drops the
oldest), so after each batch of edges, and when a debounce settles, the
helper reads the line itself and reports that level.
"""

import ctypes
import datetime
import errno
import glob
import json
import os
import re
import select
import signal
import sys
import time

BCM_LABELS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")
MAX_LINE = 64 * 1024
DEV_DIR = os.environ.get("BOARDCAST_GPIO_DEV_DIR", "/dev")


class Fail(Exception):
    def __init__(self, code, message, details=None):
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.details = details


def emit(obj):
    # os.write, not print(): a pipe makes Python's stdout block-buffered, and
    # an edge that sits in a buffer is an edge the app never sees.
    data = (json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8")
    while data:
        n = os.write(1, data)
        data = data[n:]


def die_with_parent():
    expected = os.environ.get("BOARDCAST_GPIO_PARENT")
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass  # not Linux/glibc: closing stdin still ends us
    # The parent may have died before prctl ran; then we were re-parented.
    if expected and str(os.getppid()) != expected:
        sys.exit(0)


def os_error(what, error, line=None, consumer=None):
    code = "busy" if error.errno == errno.EBUSY else "handler_failed"
    if error.errno in (errno.EACCES, errno.EPERM):
        code = "forbidden"
    message = "%s: %s" % (what, os.strerror(error.errno) if error.errno else str(error))
    if code == "busy":
        message += " (held by %s)" % (('"%s"' % consumer) if consumer else "another consumer")
    if code == "forbidden":
        message += " (add the user to the gpio group)"
    details = {"errno": error.errno}
    if line is not None:
        details["line"] = line
    if consumer:
        details["consumer"] = consumer
    return Fail(code, message, details)


# --------------------------------------------------------------------- backends


class V1(object):
    """libgpiod 1.x bindings (python3-libgpiod 1.6 on bookworm)."""

    api = 1

    def __init__(self, gpiod):
        self.g = gpiod

    def version(self):
        return getattr(self.g, "__version__", "1")

    def open_chip(self, path):
        return self.g.Chip(path, self.g.Chip.OPEN_BY_PATH)

    def chip_info(self, chip):
        return chip.name(), chip.label(), chip.num_lines()

    def line_names(self, chip, count):
        return [chip.get_line(i).name() or "" for i in range(count)]

    def line_usage(self, chip, offset):
        line = chip.get_line(offset)
        line.update()
        return line.is_used(), line.consumer()

    def request(self, slot, mode, initial):
        g = self.g
        line = slot.chip.get_line(slot.offset)
        # v1 cannot turn an event request into an output in place, so a mode
        # change re-requests; writes to an output never do.
        self.release(slot)
        flags = 0
        if mode == "input_pullup":
            flags = g.LINE_REQ_FLAG_BIAS_PULL_UP
        elif mode == "input_pulldown":
            flags = g.LINE_REQ_FLAG_BIAS_PULL_DOWN
        if mode == "output":
            line.request(consumer=slot.consumer, type=g.LINE_REQ_DIR_OUT, flags=flags, default_val=initial)
        else:
            line.request(consumer=slot.consumer, type=g.LINE_REQ_EV_BOTH_EDGES, flags=flags)
        slot.req = line

    def kernel_debounce(self, slot, ms):
        return False  # the v1 uAPI has no debounce

    def fd(self, slot):
        return slot.req.event_get_fd()

    def read_events(self, slot):
        """Edges as (value, ns), and how many the kernel dropped (None: unknown)."""
        out = []
        for ev in slot.req.event_read_multiple():
            out.append((1 if ev.type == self.g.LineEvent.RISING_EDGE else 0, ev.sec * 1000000000 + ev.nsec))
        # v1 numbers nothing: a full read (the queue's 16) may have lost edges,
        # which only the line's level can tell (see Helper.on_edges).
        return out, (None if len(out) >= 16 else 0)

    def set_value(self, slot, value):
        slot.req.set_value(value)

    def get_value(self, slot):
        return 1 if slot.req.get_value() else 0

    def release(self, slot):
        if slot.req is not None:
            req, slot.req = slot.req, None
            req.release()


class V2(object):
    """libgpiod 2.x bindings (python3-libgpiod on trixie)."""

    api = 2

    def __init__(self, gpiod):
        self.g = gpiod
        from gpiod.line import Bias, Direction, Edge, Value

        self.Bias, self.Direction, self.Edge, self.Value = Bias, Direction, Edge, Value

    def version(self):
        return getattr(self.g, "__version__", "2")

    def open_chip(self, path):
        return self.g.Chip(path)

    def chip_info(self, chip):
        info = chip.get_info()
        return info.name, info.label, info.num_lines

    def line_names(self, chip, count):
        return [chip.get_line_info(i).name or "" for i in range(count)]

    def line_usage(self, chip, offset):
        info = chip.get_line_info(offset)
        return info.used, info.consumer

    def settings(self, slot, mode, initial):
        bias = {"input_pullup": self.Bias.PULL_UP, "input_pulldown": self.Bias.PULL_DOWN}.get(mode, self.Bias.AS_IS)
        if mode == "output":
            return self.g.LineSettings(
                direction=self.Direction.OUTPUT,
                output_value=self.Value.ACTIVE if initial else self.Value.INACTIVE,
            )
        return self.g.LineSettings(
            direction=self.Direction.INPUT,
            edge_detection=self.Edge.BOTH,
            bias=bias,
            debounce_period=datetime.timedelta(milliseconds=slot.kernel_debounce_ms),
        )

    def request(self, slot, mode, initial):
        config = {slot.offset: self.settings(slot, mode, initial)}
        if slot.req is not None:
            # Reconfigure in place: the line is never released.
            slot.req.reconfigure_lines(config)
        else:
            slot.req = slot.chip.request_lines(config=config, consumer=slot.consumer)
            slot.seqno = 0  # the kernel numbers a request's events from 1

    def kernel_debounce(self, slot, ms):
        slot.kernel_debounce_ms = ms
        self.request(slot, slot.mode, None)
        return True

    def fd(self, slot):
        return slot.req.fd

    def read_events(self, slot):
        """Edges as (value, ns), and how many the kernel dropped (line_seqno gaps)."""
        out = []
        dropped = 0
        for ev in slot.req.read_edge_events():
            rising = ev.event_type == ev.Type.RISING_EDGE
            out.append((1 if rising else 0, ev.timestamp_ns))
            if slot.seqno is not None and ev.line_seqno > slot.seqno + 1:
                dropped += ev.line_seqno - slot.seqno - 1
            slot.seqno = ev.line_seqno
        return out, dropped

    def set_value(self, slot, value):
        slot.req.set_value(slot.offset, self.Value.ACTIVE if value else self.Value.INACTIVE)

    def get_value(self, slot):
        return 1 if slot.req.get_value(slot.offset) == self.Value.ACTIVE else 0

    def release(self, slot):
        if slot.req is not None:
            req, slot.req = slot.req, None
            req.release()


def load_backend():
    try:
        import gpiod
    except ImportError as error:
        raise Fail(
            "unsupported",
            "the gpiod Python bindings are not installed (apt install python3-libgpiod): %s" % error,
        )
    if hasattr(gpiod, "LineSettings") and hasattr(gpiod, "is_gpiochip_device"):
        return V2(gpiod)
    if hasattr(gpiod, "Chip") and hasattr(gpiod, "LINE_REQ_DIR_OUT"):
        return V1(gpiod)
    raise Fail("unsupported", "unknown gpiod module at %s" % getattr(gpiod, "__file__", "?"))


# ------------------------------------------------------------------------ lines


class Slot(object):
    def __init__(self, index, pin, chip, chip_name, label, offset, name, consumer):
        self.index = index
        self.pin = pin
        self.chip = chip
        self.chip_name = chip_name
        self.label = label
        self.offset = offset
        self.name = name
        self.consumer = consumer
        self.req = None
        self.mode = None
        self.watching = False
        self.kernel_debounce_ms = 0
        self.helper_debounce_ms = 0
        self.reported = None
        self.pending = None  # (value, ns, due) while helper-side debounce waits
        self.release_level = None  # driven before release on the way out; None: keep
        self.seqno = None  # v2: last line_seqno seen

    def where(self):
        return "%s line %d (%s)" % (self.chip_name, self.offset, self.name or "unnamed")


class Helper(object):
    def __init__(self):
        self.backend = None
        self.chips = []  # (path, chip, name, label, names)
        self.slots = []
        self.opened = False

    # -- open

    def scan(self):
        paths = glob.glob(os.path.join(DEV_DIR, "gpiochip*"))
        paths.sort(key=lambda p: int(re.sub(r"\D", "", os.path.basename(p)) or 0))
        denied = []
        for path in paths:
            try:
                chip = self.backend.open_chip(path)
            except OSError as error:
                if error.errno in (errno.EACCES, errno.EPERM):
                    denied.append(path)
                continue
            name, label, count = self.backend.chip_info(chip)
            self.chips.append((path, chip, name, label, self.backend.line_names(chip, count)))
        if not self.chips:
            if denied:
                raise Fail(
                    "forbidden",
                    "no permission to open %s (add the user to the gpio group)" % ", ".join(denied),
                    {"chips": denied},
                )
            raise Fail("unsupported", "no GPIO chips in %s (no GPIO character device on this system)" % DEV_DIR,
                       {"chips": []})

    def chip_list(self):
        return [{"chip": c[2], "label": c[3], "lines": len(c[4])} for c in self.chips]

    def describe_chips(self):
        return ", ".join("%s [%s, %d lines]" % (c[2], c[3], len(c[4])) for c in self.chips)

    def bcm_chip(self, wanted):
        if wanted:
            for c in self.chips:
                if wanted in (c[0], c[2], c[3]):
                    return c
            raise Fail("unsupported", 'no GPIO chip "%s"; chips: %s' % (wanted, self.describe_chips()),
                       {"chips": self.chip_list()})
        for label in BCM_LABELS:
            for c in self.chips:
                if c[3] == label:
                    return c
        return None

    def resolve(self, pin, bcm):
        if isinstance(pin, bool) or not isinstance(pin, (int, str)):
            raise Fail("invalid_payload", "a pin is a BCM GPIO number or a line name, not %r" % (pin,))
        if isinstance(pin, int):
            if bcm is not None:
                if 0 <= pin < len(bcm[4]):
                    return bcm, pin
                raise Fail("unsupported", "GPIO %d is not a line of %s [%s, %d lines]; chips: %s"
                           % (pin, bcm[2], bcm[3], len(bcm[4]), self.describe_chips()), {"chips": self.chip_list()})
            # Not a Raspberry Pi: number n is the line named GPIOn.
            pin_name = "GPIO%d" % pin
        else:
            pin_name = pin
        ordered = ([bcm] if bcm is not None else []) + [c for c in self.chips if c is not bcm]
        for c in ordered:
            if pin_name in c[4]:
                return c, c[4].index(pin_name)
        match = re.match(r"^GPIO(\d+)$", pin_name, re.IGNORECASE)
        if match and bcm is not None and int(match.group(1)) < len(bcm[4]):
            return bcm, int(match.group(1))
        hint = "" if bcm is not None else " (no Raspberry Pi GPIO chip %s here)" % "/".join(BCM_LABELS)
        raise Fail("unsupported", 'no GPIO line for pin %s%s; chips: %s' % (json.dumps(pin), hint, self.describe_chips()),
                   {"chips": self.chip_list()})

    def op_open(self, req):
        if self.opened:
            # A second open would scan every chip again and hand out a second
            # set of slots over lines this helper already holds.
            raise Fail("invalid_payload", "already open (one open per helper)")
        try:
            result = self.open_lines(req)
        except BaseException:
            # Nothing half set up: a failed open leaves no chip open, no slot,
            # and the helper ready for another try.
            self.close()
            self.backend = None
            self.chips = []
            self.slots = []
            raise
        self.opened = True
        return result

    def open_lines(self, req):
        self.backend = load_backend()
        self.scan()
        consumer = str(req.get("consumer") or "boardcast")[:31]
        bcm = self.bcm_chip(req.get("chip"))
        pins = req.get("pins")
        if not isinstance(pins, list):
            raise Fail("invalid_payload", "pins must be a list")
        seen = {}
        lines = []
        for index, pin in enumerate(pins):
            c, offset = self.resolve(pin, bcm)
            key = (c[2], offset)
            if key in seen:
                raise Fail("invalid_payload", "pins %s and %s are the same line (%s line %d)"
                           % (json.dumps(pins[seen[key]]), json.dumps(pin), c[2], offset))
            seen[key] = index
            slot = Slot(index, pin, c[1], c[2], c[3], offset, c[4][offset], consumer)
            used, holder = self.backend.line_usage(c[1], offset)
            if used:
                raise Fail("busy", "%s is in use by %s" % (slot.where(), ('"%s"' % holder) if holder else "the kernel"),
                           {"line": slot.where(), "consumer": holder or None})
            self.slots.append(slot)
            lines.append({"chip": c[2], "label": c[3], "offset": offset, "name": c[4][offset]})
        self.consumer = consumer
        return {"api": self.backend.api, "version": self.backend.version(), "lines": lines}

    def hello(self):
        """The board protocol's hello: what this helper offers, as an agent announces its pins."""
        modes = ["input", "input_pullup", "input_pulldown", "output"]
        return {"type": "hello", "id": self.consumer, "sensors": [],
                "firmware": "boardcast-gpio-helper python3-libgpiod %s" % self.backend.version(),
                "pins": [{"pin": slot.pin, "modes": modes, "name": slot.name or slot.where()} for slot in self.slots]}

    # -- operations

    def slot(self, req):
        pin = req.get("pin")
        for slot in self.slots:
            # Keys as the board protocol compares pins: 5 and "5" are one pin.
            if not isinstance(pin, bool) and isinstance(pin, (int, str)) and str(slot.pin) == str(pin):
                return slot
        raise Fail("unsupported", "no pin %s on this board (open lists the pins)" % json.dumps(pin))

    def op_mode(self, req):
        slot = self.slot(req)
        mode = req.get("mode")
        if mode not in ("input", "input_pullup", "input_pulldown", "output"):
            raise Fail("unsupported", "%s: mode %r is not supported" % (slot.where(), mode))
        initial = 1 if req.get("initial") == 1 else 0
        release = req.get("release", initial)
        if release not in (0, 1, "keep") or isinstance(release, bool):
            raise Fail("invalid_payload", 'release must be 0, 1 or "keep"')
        try:
            self.backend.request(slot, mode, initial)
        except OSError as error:
            consumer = None
            if error.errno == errno.EBUSY:
                try:
                    consumer = self.backend.line_usage(slot.chip, slot.offset)[1]
                except Exception:
                    pass
            raise os_error("%s: request as %s" % (slot.where(), mode), error, slot.where(), consumer)
        slot.mode = mode
        slot.pending = None
        slot.release_level = None if mode != "output" or release == "keep" else release
        slot.reported = self.backend.get_value(slot)
        return {"value": mode}

    def op_write(self, req):
        slot = self.slot(req)
        value = req.get("value")
        if value not in (0, 1) or isinstance(value, bool):
            raise Fail("invalid_payload", "value must be 0 or 1")
        if slot.mode != "output" or slot.req is None:
            raise Fail("unsupported", "%s is not an output" % slot.where())
        try:
            self.backend.set_value(slot, value)
            confirmed = self.backend.get_value(slot)
        except OSError as error:
            raise os_error("%s: write %d" % (slot.where(), value), error, slot.where())
        if confirmed != value:
            raise Fail("handler_failed", "%s: wrote %d, the line reads %d" % (slot.where(), value, confirmed))
        return {"value": confirmed}

    def op_read(self, req):
        slot = self.slot(req)
        if slot.req is None:
            raise Fail("unsupported", "%s is not configured" % slot.where())
        try:
            return {"value": self.backend.get_value(slot)}
        except OSError as error:
            raise os_error("%s: read" % slot.where(), error, slot.where())

    def op_watch(self, req):
        slot = self.slot(req)
        ms = req.get("debounceMs")
        if req.get("type") == "unwatch" or ms is None:
            slot.watching = False
            slot.pending = None
            return {"value": slot.reported}
        if not isinstance(ms, (int, float)) or ms < 0 or ms > 60000:
            raise Fail("invalid_payload", "debounceMs must be 0..60000")
        if slot.mode is None or slot.mode == "output":
            raise Fail("unsupported", "%s is not an input" % slot.where())
        ms = int(ms)
        in_kernel = False
        if ms != slot.kernel_debounce_ms + slot.helper_debounce_ms or not slot.watching:
            try:
                in_kernel = self.backend.kernel_debounce(slot, ms)
            except (OSError, ValueError):
                in_kernel = False
            slot.helper_debounce_ms = 0 if in_kernel else ms
            if not in_kernel and self.backend.api == 2 and slot.kernel_debounce_ms:
                slot.kernel_debounce_ms = 0
        slot.watching = True
        try:
            slot.reported = self.backend.get_value(slot)
        except OSError:
            pass
        return {"debounce": "kernel" if slot.kernel_debounce_ms else ("helper" if slot.helper_debounce_ms else "none"),
                "value": slot.reported}

    # -- edges

    def on_edges(self, slot):
        now = time.monotonic()
        events, dropped = self.backend.read_events(slot)
        if not events or not slot.watching:
            return
        for value, ns in events:
            self.edge(slot, value, ns, now)
        # The queue may have lost edges (v1 drops the newest when 16 wait, v2
        # the oldest): the last edge read is not necessarily the line's level
        # now. The line itself is.
        level = self.backend.get_value(slot)
        if level != events[-1][0]:
            self.edge(slot, level, time.monotonic_ns(), now)
            if dropped is None:
                # A full v1 read (the queue holds 16) that ends on the wrong
                # level: edges were lost; v1 does not say how many.
                emit({"type": "overflow", "pin": slot.pin, "dropped": None})
        if dropped:
            emit({"type": "overflow", "pin": slot.pin, "dropped": dropped})

    def edge(self, slot, value, ns, now):
        if slot.helper_debounce_ms:
            # Stable for N ms: a bounce back to the reported level cancels.
            if value == slot.reported:
                slot.pending = None
            else:
                slot.pending = (value, ns, now + slot.helper_debounce_ms / 1000.0)
            return
        if value != slot.reported:
            slot.reported = value
            emit({"type": "edge", "pin": slot.pin, "value": value, "ns": str(ns)})

    def due(self):
        now = time.monotonic()
        timeout = None
        for slot in self.slots:
            if slot.pending is None:
                continue
            value, ns, at = slot.pending
            if at <= now:
                slot.pending = None
                # Settled: report what the line reads now, not what the last
                # edge said (edges may have been lost since).
                try:
                    level = self.backend.get_value(slot)
                except OSError:
                    level = value
                if level != slot.reported:
                    slot.reported = level
                    emit({"type": "edge", "pin": slot.pin, "value": level,
                          "ns": str(ns if level == value else time.monotonic_ns())})
            else:
                timeout = at - now if timeout is None else min(timeout, at - now)
        return timeout

    def close(self):
        for slot in self.slots:
            # The known end state: an output's release level first (the
            # kernel keeps whatever the line drives when it is released).
            if slot.req is not None and slot.mode == "output" and slot.release_level is not None:
                try:
                    self.backend.set_value(slot, slot.release_level)
                except Exception:
                    pass
            try:
                self.backend.release(slot)
            except Exception:
                pass
        self.slots = []
        for c in self.chips:
            try:
                c[1].close()
            except Exception:
                pass
        self.chips = []


def result(rid, value):
    return {"type": "result", "id": rid, "ok": True, "value": value}


def failed(rid, code, message, details=None):
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    if rid is None:
        # As the agent answers a request without an id: nobody's result.
        return {"type": "error", "error": error}
    return {"type": "result", "id": rid, "ok": False, "error": error}


def handle(helper, raw, ops):
    """One request line; True when the helper is to exit (close)."""
    rid = None
    try:
        req = json.loads(raw.decode("utf-8"))
        if not isinstance(req, dict):
            raise Fail("invalid_payload", "a request is a JSON object")
        rid = req.get("id")
        if not isinstance(rid, int) or isinstance(rid, bool):
            rid = None
            raise Fail("invalid_payload", "request needs an integer id")
        kind = req.get("type")
        if kind == "close":
            helper.close()
            emit(result(rid, None))
            return True
        if kind not in ops:
            raise Fail("unsupported", "unknown request type %r" % (kind,))
        if kind != "open" and helper.backend is None:
            raise Fail("invalid_payload", "open first")
        emit(result(rid, ops[kind](req)["value"]))
        if kind == "open":
            emit(helper.hello())
    except Fail as failure:
        emit(failed(rid, failure.code, failure.message, failure.details))
    except (ValueError, UnicodeDecodeError) as failure:
        emit(failed(rid, "invalid_payload", str(failure)))
    except OSError as failure:
        fail = os_error("request", failure)
        emit(failed(rid, fail.code, fail.message))
    return False


def stop_on_sigterm():
    """A pipe that becomes readable when SIGTERM arrives (ours, or PR_SET_PDEATHSIG's).

    The handler must not raise: when the server dies, the kernel closes our
    stdin and then sends the death signal, so SIGTERM often lands while
    close() is already driving outputs to their release level, and an
    exception raised there (sys.exit) skipped that write and left an LED on.
    Python's wakeup fd turns the signal into a byte the main loop's select
    sees instead; a SIGTERM during close() is then a no-op.
    """
    stop_r, stop_w = os.pipe()
    os.set_blocking(stop_r, False)
    os.set_blocking(stop_w, False)
    signal.set_wakeup_fd(stop_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGTERM, lambda *_: None)
    return stop_r


def main():
    die_with_parent()
    stop = stop_on_sigterm()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server; it closes us.
    helper = Helper()
    ops = {"open": lambda req: {"value": helper.op_open(req)}, "mode": helper.op_mode, "write": helper.op_write,
           "read": helper.op_read, "watch": helper.op_watch, "unwatch": helper.op_watch}
    buf = b""
    try:
        while True:
            fds = {0: None, stop: None}
            for slot in helper.slots:
                if slot.req is not None and slot.mode is not None and slot.mode != "output":
                    fds[helper.backend.fd(slot)] = slot
            timeout = helper.due()
            ready, _, _ = select.select(list(fds), [], [], timeout)
            if stop in ready:
                return  # SIGTERM: release the lines (finally) and exit
            for fd in ready:
                if fd != 0:
                    try:
                        helper.on_edges(fds[fd])
                    except OSError as error:
                        emit({"type": "error", "error": {"code": "handler_failed", "message": "reading edges: %s" % error}})
                    continue
                chunk = os.read(0, 65536)
                if not chunk:
                    return  # the server closed our stdin or died
                buf += chunk
                if len(buf) > MAX_LINE and b"\n" not in buf:
                    emit({"type": "error",
                          "error": {"code": "invalid_payload", "message": "request longer than %d bytes dropped" % MAX_LINE}})
                    buf = b""
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    if not raw.strip():
                        continue
                    if handle(helper, raw, ops):
                        return
    except BrokenPipeError:
        pass
    finally:
        helper.close()


if __name__ == "__main__":
    main()
