"""An emulated GPIO character device, shared by every process of a test.

GPIO hardware cannot exist on the test machine, so this module plays the
kernel's part underneath a strict fake of the `gpiod` Python bindings. Its
state lives on disk under $FAKE_GPIO_DIR, so the kernel's rules hold across
processes exactly as they do on a Pi:

- A requested line is held through an exclusive flock on its lock file. The
  flock is released by the OS when the holder closes it, exits or is killed
  (SIGKILL included), as the kernel releases a dead process's lines. Anyone
  else requesting a held line gets EBUSY; its info names the consumer.
- A released line keeps its direction, and an output keeps driving its last
  level (as a Raspberry Pi's pins do: gpiod_free does not touch the pad)
  until a new request changes it.
- Edges are queued in a file per request (ev/<chip>-<offset>.q) with a
  doorbell datagram on a Unix socket the holder binds, stamped with
  CLOCK_MONOTONIC nanoseconds when the outside world changes the level; v2
  debounce is applied on the kernel side (see world.py); the reader keeps
  the newest event_buffer_size of them (the v2 kernel drops the oldest).
- A fault file makes the next set_value fail with the errno it contains; a
  stall file holds the next set_value (before it takes effect) until the
  test removes it.

Layout: chips.json (chip name -> label, line names), dev/gpiochipN (device
nodes), kernel.lock (mutex), lines/<chip>-<offset>.{lock,json} (holder and
config), world/<chip>-<offset> (level driven from outside), faults/, ev/.
"""

import errno
import fcntl
import json
import os
import socket
import time

_ROOT = None


def root():
    global _ROOT
    if _ROOT is None:
        _ROOT = os.environ.get("FAKE_GPIO_DIR")
        if not _ROOT or not os.path.isdir(_ROOT):
            raise OSError(errno.ENOENT, "FAKE_GPIO_DIR is not set to an emulated GPIO directory")
    return _ROOT


def chips():
    with open(os.path.join(root(), "chips.json")) as f:
        return json.load(f)


def chip_for_path(desc):
    """A device path, chip name, number or label -> chip name (None if none)."""
    table = chips()
    base = os.path.basename(str(desc))
    if os.path.isabs(str(desc)):
        if not os.path.exists(desc) or os.path.dirname(os.path.realpath(desc)) != os.path.realpath(
            os.path.join(root(), "dev")
        ):
            return None
        return base if base in table else None
    if base in table:
        return base
    if str(desc).isdigit() and "gpiochip" + str(desc) in table:
        return "gpiochip" + str(desc)
    for name, chip in table.items():
        if chip["label"] == desc:
            return name
    return None


_MUTEX_FD = None


class _Mutex(object):
    # One descriptor per process, opened once: the mutex is taken on every
    # emulated ioctl, so it must cost a syscall, not an open/close pair.
    def __enter__(self):
        global _MUTEX_FD
        if _MUTEX_FD is None:
            _MUTEX_FD = os.open(os.path.join(root(), "kernel.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(_MUTEX_FD, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(_MUTEX_FD, fcntl.LOCK_UN)
        return False


def mutex():
    return _Mutex()


def _path(kind, chip, offset, ext=""):
    return os.path.join(root(), kind, "%s-%d%s" % (chip, offset, ext))


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _record(chip, offset, cfg, fd=None):
    """Every level an output line is driven to, in order (the oscilloscope)."""
    if cfg["direction"] != "output":
        return
    line = ("%d\n" % cfg["value"]).encode()
    if fd is not None:
        os.write(fd, line)
        return
    os.makedirs(os.path.join(root(), "history"), exist_ok=True)
    with open(_path("history", chip, offset), "ab") as f:
        f.write(line)


def history(chip, offset):
    try:
        with open(_path("history", chip, offset)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def held(chip, offset):
    """Call with the mutex held. True while some process holds the line."""
    path = _path("lines", chip, offset, ".lock")
    if not os.path.exists(path):
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return False


def config(chip, offset):
    """Call with the mutex held. The holder's config, or None when released."""
    if not held(chip, offset):
        return None
    return _read_json(_path("lines", chip, offset, ".json"))


def world_level(chip, offset):
    try:
        with open(_path("world", chip, offset)) as f:
            text = f.read().strip()
        return int(text) if text in ("0", "1") else None
    except OSError:
        return None


def kept(chip, offset):
    """Call with the mutex held. The level a released output still drives, or None.

    The last holder's config stays on disk after it is gone (released, exited
    or killed): an output keeps driving its last level, as the kernel leaves
    the pad alone, until a new request changes it."""
    if held(chip, offset):
        return None
    cfg = _read_json(_path("lines", chip, offset, ".json"))
    return cfg["value"] if cfg and cfg.get("direction") == "output" else None


def physical(chip, offset, cfg=None):
    """Call with the mutex held. The electrical level of the line now."""
    if cfg is None:
        cfg = config(chip, offset)
    if cfg is not None and cfg["direction"] == "output":
        return cfg["value"]
    if cfg is None and kept(chip, offset) is not None:
        return kept(chip, offset)
    driven = world_level(chip, offset)
    if driven is not None:
        return driven
    if cfg is not None and cfg.get("bias") == "pull-up":
        return 1
    return 0  # pulled down, or a released line that nobody drives


class Handle(object):
    """One requested line, as the kernel's line request fd."""

    def __init__(self, chip, offset, cfg):
        self.chip = chip
        self.offset = offset
        self.lock_fd = None
        self.sock = None
        with mutex():
            os.makedirs(os.path.join(root(), "lines"), exist_ok=True)
            fd = os.open(_path("lines", chip, offset, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
            self.lock_fd = fd
            sock_path = _path("ev", chip, offset)
            os.makedirs(os.path.dirname(sock_path), exist_ok=True)
            for stale in (sock_path, sock_path + ".q"):
                try:
                    os.unlink(stale)  # left by a holder that was killed
                except OSError:
                    pass
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(sock_path)
            self.sock.setblocking(False)
            os.makedirs(os.path.join(root(), "history"), exist_ok=True)
            self.history_fd = os.open(_path("history", chip, offset), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self.cfg_fd = os.open(_path("lines", chip, offset, ".json"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            self._store(cfg)

    def _check(self):
        if self.lock_fd is None:
            raise OSError(errno.EBADF, "line request released")

    def _store(self, cfg):
        """Call with the mutex held. The holder is the only writer of its config."""
        self.cfg = dict(cfg)
        data = json.dumps(self.cfg).encode().ljust(1024)
        os.pwrite(self.cfg_fd, data, 0)
        _record(self.chip, self.offset, self.cfg, self.history_fd)

    def fileno(self):
        self._check()
        return self.sock.fileno()

    def configure(self, cfg):
        self._check()
        with mutex():
            self._store(cfg)

    def config(self):
        self._check()
        return dict(self.cfg)

    def set_physical(self, value):
        self._check()
        stall = _path("faults", self.chip, self.offset, ".stall")
        if os.path.exists(stall):
            # The test holds this write (world.py "stall") to act while the
            # writer is inside it; ".stalled" tells it the writer got here.
            open(stall + "ed", "w").close()
            while os.path.exists(stall):
                time.sleep(0.005)
            os.unlink(stall + "ed")
        with mutex():
            if self.cfg["direction"] != "output":
                raise OSError(errno.EPERM, os.strerror(errno.EPERM))
            fault = _path("faults", self.chip, self.offset)
            if os.path.exists(fault):
                with open(fault) as f:
                    code = int(f.read().strip() or errno.EIO)
                os.unlink(fault)
                raise OSError(code, os.strerror(code))
            cfg = dict(self.cfg)
            cfg["value"] = value
            self._store(cfg)

    def get_physical(self):
        self._check()
        with mutex():
            return physical(self.chip, self.offset, self.cfg)

    def read_events(self):
        """Every queued edge: dicts with rising (logical), ns."""
        self._check()
        with mutex():
            while True:
                try:
                    self.sock.recv(16)  # doorbells
                except BlockingIOError:
                    break
            path = _path("ev", self.chip, self.offset, ".q")
            try:
                with open(path) as f:
                    lines = f.read().splitlines()
                os.unlink(path)
            except OSError:
                lines = []
        return [json.loads(line) for line in lines if line]

    def wait(self, timeout):
        import select

        self._check()
        ready, _, _ = select.select([self.sock], [], [], timeout)
        return bool(ready)

    def release(self):
        if self.lock_fd is None:
            return
        with mutex():
            try:
                self.sock.close()
                os.unlink(_path("ev", self.chip, self.offset))
                os.unlink(_path("ev", self.chip, self.offset, ".q"))
            except OSError:
                pass
            os.close(self.cfg_fd)
            os.close(self.history_fd)
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
            os.close(self.lock_fd)
            self.lock_fd = None


def deliver(chip, offset, rising, ns):
    """Call with the mutex held: queue an edge on the holder's request.

    Edges wait in a file (the kernel's buffer; the reader applies its size),
    and a one-byte datagram makes the holder's fd readable. A unix datagram
    queue holds only max_dgram_qlen (10) messages, so it cannot be the buffer
    itself; a full doorbell queue means the holder is woken already."""
    with open(_path("ev", chip, offset, ".q"), "a") as f:
        f.write(json.dumps({"rising": rising, "ns": ns, "offset": offset}) + "\n")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setblocking(False)
    try:
        s.sendto(b"!", _path("ev", chip, offset))
    except OSError:
        pass  # queue of doorbells full, or a killed holder's socket
    finally:
        s.close()


def now_ns():
    return time.monotonic_ns()
