"""The emulated kernel behind gpio_cdev_v1.c: the GPIO character device,
uAPI v1, as gpiolib-cdev.c implements it, for every process of one test.

    python3 kernel_v1.py <dir> <fixture.json>

Sets up <dir> (sys/gpiochipN/dev, dev/gpiochipN, kernel.sock), answers the
LD_PRELOAD library's requests on kernel.sock (one SOCK_SEQPACKET connection
per chip fd, line handle fd and line event fd), and takes the outside
world's commands as newline-delimited JSON on stdin, answering each on
stdout (the same commands as world.py, the v2 double's world):

    {"id":1,"op":"drive","chip":"pinctrl-rp1","offset":17,"level":0}     press (null: let go, the bias decides)
    {"id":2,"op":"drive","chip":"pinctrl-rp1","offset":17,"levels":[0,1,0]}   a burst, edges stamped in order
    {"id":3,"op":"level","chip":"pinctrl-rp1","offset":5}                 level, held, consumer, direction
    {"id":4,"op":"history","chip":"pinctrl-rp1","offset":5}               every level the line was driven to
    {"id":5,"op":"fault","chip":"pinctrl-rp1","offset":5,"errno":5,"on":"write"}   the next write/read/request/events fails
    {"id":6,"op":"claim","chip":"pinctrl-rp1","offset":5,"consumer":"spi0 CS0"}    a kernel driver holds the line (null: lets go)
    {"id":7,"op":"stats","chip":"pinctrl-rp1","offset":17}                events queued and dropped on its request

Kernel rules kept (drivers/gpio/gpiolib-cdev.c, Linux 6.1/6.6):
- a requested line is busy (EBUSY) for every other request, from any
  process, until the fd that holds it is closed (close() waits for the
  release, as the kernel's does); the process's death closes it. Lines a driver holds are busy too and show GPIOLINE_FLAG_KERNEL and the
  driver's label;
- GPIOHANDLE flag validation (linehandle_validate_flags), v1 has no debounce;
- SET_LINE_VALUES on an input is EPERM; the line event fd takes only
  GET_LINE_VALUES;
- each line event request queues at most 16 events (KFIFO_DECLARE(events,
  struct gpioevent_data, 16)); kfifo_in on a full fifo stores nothing, so the
  NEWEST edges are lost and nothing tells the reader (v2 drops the oldest and
  numbers events; v1 does neither);
- events carry CLOCK_MONOTONIC nanoseconds (since Linux 5.7) and the logical
  level (active-low inverts it);
- releasing a line leaves its direction and an output's level as they were
  (gpiod_free does not touch the pin: a Raspberry Pi keeps driving a
  released output).
"""

import errno
import json
import os
import selectors
import socket
import sys
import time

# struct gpiohandle_request.flags
H_INPUT, H_OUTPUT, H_ACTIVE_LOW, H_OPEN_DRAIN, H_OPEN_SOURCE = 1, 2, 4, 8, 16
H_PULL_UP, H_PULL_DOWN, H_BIAS_DISABLE = 32, 64, 128
H_VALID = 0xFF
# struct gpioline_info.flags
L_KERNEL, L_IS_OUT, L_ACTIVE_LOW, L_OPEN_DRAIN, L_OPEN_SOURCE = 1, 2, 4, 8, 16
L_PULL_UP, L_PULL_DOWN, L_BIAS_DISABLE = 32, 64, 128
E_RISING, E_FALLING = 1, 2
KFIFO_EVENTS = 16


class Line(object):
    def __init__(self, chip, offset, name):
        self.chip = chip
        self.offset = offset
        self.name = name if name not in ("", "-") else ""
        self.holder = None  # Conn, or "kernel"
        self.consumer = ""
        self.flags = 0  # the holder's GPIOHANDLE flags
        self.direction = "input"
        self.bias = None  # "pull-up" / "pull-down" / None: survives release, like the pad's pull
        self.drive = 0  # physical level an output drives (kept after release)
        self.world = None  # level driven from outside, or None
        self.history = []

    @property
    def active_low(self):
        return 1 if self.flags & H_ACTIVE_LOW else 0

    def physical(self):
        if self.direction == "output":
            return self.drive
        if self.world is not None:
            return self.world
        return 1 if self.bias == "pull-up" else 0

    def info_flags(self):
        flags = 0
        if self.holder is not None:
            flags |= L_KERNEL
        if self.direction == "output":
            flags |= L_IS_OUT
        if self.holder is not None:
            for h, l in ((H_ACTIVE_LOW, L_ACTIVE_LOW), (H_OPEN_DRAIN, L_OPEN_DRAIN), (H_OPEN_SOURCE, L_OPEN_SOURCE),
                         (H_PULL_UP, L_PULL_UP), (H_PULL_DOWN, L_PULL_DOWN), (H_BIAS_DISABLE, L_BIAS_DISABLE)):
                if self.flags & h:
                    flags |= l
        return flags

    def set_output(self, logical):
        self.direction = "output"
        self.drive = (1 if logical else 0) ^ self.active_low
        self.history.append(self.drive)

    def apply_bias(self, flags):
        if flags & H_PULL_UP:
            self.bias = "pull-up"
        elif flags & (H_PULL_DOWN):
            self.bias = "pull-down"
        elif flags & H_BIAS_DISABLE:
            self.bias = None


class Conn(object):
    def __init__(self, sock):
        self.sock = sock
        self.kind = None  # "chip", "handle", "event"
        self.chip = None
        self.lines = []
        self.eventflags = 0
        self.queue = []
        self.dropped = 0


def validate_handle_flags(flags):
    """linehandle_validate_flags."""
    if flags & ~H_VALID:
        return False
    if flags & H_INPUT and flags & H_OUTPUT:
        return False
    if flags & H_OPEN_DRAIN and flags & H_OPEN_SOURCE:
        return False
    if not flags & H_OUTPUT and flags & (H_OPEN_DRAIN | H_OPEN_SOURCE):
        return False
    if not flags & (H_INPUT | H_OUTPUT) and flags & (H_BIAS_DISABLE | H_PULL_UP | H_PULL_DOWN):
        return False
    if (flags & H_BIAS_DISABLE and flags & (H_PULL_DOWN | H_PULL_UP)) or (flags & H_PULL_DOWN and flags & H_PULL_UP):
        return False
    return True


class Kernel(object):
    def __init__(self, root, fixture):
        self.root = root
        with open(fixture) as f:
            table = json.load(f)
        self.chips = {}
        self.labels = {}
        for sub in ("dev", "sys"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        for chip in table["chips"]:
            name = chip["name"]
            self.chips[name] = {"label": chip["label"],
                                "lines": [Line(name, i, n) for i, n in enumerate(chip["names"])]}
            self.labels[chip["label"]] = name
            os.makedirs(os.path.join(root, "sys", name), exist_ok=True)
            with open(os.path.join(root, "sys", name, "dev"), "w") as f:
                f.write("254:%d\n" % int(name[len("gpiochip"):]))
            # A node for a helper that lists $dir/dev (BOARDCAST_GPIO_DEV_DIR): a plain
            # file, never opened as such: the library answers for its path.
            open(os.path.join(root, "dev", name), "a").close()
            for offset, holder in (chip.get("kernel") or {}).items():
                line = self.chips[name]["lines"][int(offset)]
                line.holder, line.consumer = "kernel", holder
        self.faults = {}  # (chip, offset, on) -> errno
        self.sel = selectors.DefaultSelector()
        path = os.path.join(root, "kernel.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(path)
        self.listener.listen(128)
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "world")
        self.world_buf = b""

    # ---------------------------------------------------------------- helpers

    def chip_name(self, desc):
        desc = str(desc)
        if desc in self.chips:
            return desc
        if desc in self.labels:
            return self.labels[desc]
        base = os.path.basename(desc)
        if base in self.chips:
            return base
        raise ValueError("no chip %r" % desc)

    def line(self, chip, offset):
        lines = self.chips[chip]["lines"]
        if not 0 <= offset < len(lines):
            raise OSError(errno.EINVAL, "offset")
        return lines[offset]

    def fault(self, line, on):
        code = self.faults.pop((line.chip, line.offset, on), None)
        if code:
            raise OSError(code, os.strerror(code))

    @staticmethod
    def send(conn, text):
        try:
            conn.sock.send(text.encode("utf-8"))
        except OSError:
            pass  # the holder is gone; its close is on the way

    def ring(self, conn):
        if conn.queue:
            self.send(conn, "!")

    # --------------------------------------------------------------- requests

    def on_request(self, conn, text):
        parts = text.split("\t")
        op = parts[0]
        try:
            reply = self.dispatch(conn, op, parts[1:])
        except OSError as error:
            reply = "-%d" % (error.errno or errno.EIO)
        except (ValueError, IndexError):
            reply = "-%d" % errno.EINVAL
        self.send(conn, reply)
        if conn.kind == "event":
            self.ring(conn)

    def dispatch(self, conn, op, args):
        if op == "CHIP":
            if args[0] not in self.chips:
                raise OSError(errno.ENOENT, "no chip")
            conn.kind, conn.chip = "chip", args[0]
            return "0"
        if op == "INFO" and conn.kind == "chip":
            chip = self.chips[conn.chip]
            return "0\t%s\t%s\t%d" % (conn.chip, chip["label"], len(chip["lines"]))
        if op == "LINEINFO" and conn.kind == "chip":
            line = self.line(conn.chip, int(args[0]))
            return "0\t%d\t%s\t%s" % (line.info_flags(), line.name, line.consumer if line.holder else "")
        if op == "HANDLE" and conn.kind is None:
            return self.request_handle(conn, args)
        if op == "EVENT" and conn.kind is None:
            return self.request_event(conn, args)
        if op == "GET" and conn.kind in ("handle", "event"):
            for line in conn.lines:
                self.fault(line, "read")
            return "0\t" + ",".join(str(l.physical() ^ l.active_low) for l in conn.lines)
        if op == "SET" and conn.kind == "handle":
            values = [int(v) for v in args[0].split(",")][: len(conn.lines)]
            if any(line.direction != "output" for line in conn.lines):
                raise OSError(errno.EPERM, "not an output")
            for line in conn.lines:
                self.fault(line, "write")
            for line, value in zip(conn.lines, values):
                line.set_output(value)
            return "0"
        if op == "CONFIG" and conn.kind == "handle":
            flags = int(args[0])
            values = [int(v) for v in args[1].split(",")]
            if not validate_handle_flags(flags):
                raise OSError(errno.EINVAL, "flags")
            for line in conn.lines:
                self.fault(line, "request")
            for line, value in zip(conn.lines, values):
                line.flags = flags
                line.apply_bias(flags)
                if flags & H_OUTPUT:
                    line.set_output(value)
                elif flags & H_INPUT:
                    line.direction = "input"
            return "0"
        if op == "RELEASE" and conn.kind in ("handle", "event"):
            self.release(conn)
            return "0"
        if op == "READ" and conn.kind == "event":
            self.fault(conn.lines[0], "events")
            count = max(1, int(args[0]))
            taken, conn.queue = conn.queue[:count], conn.queue[count:]
            return "\t".join(["0", str(len(taken))] + ["%d:%d" % ev for ev in taken])
        raise OSError(errno.EINVAL, "not this fd")

    def take(self, conn, lines, consumer, flags):
        for line in lines:
            if line.holder is not None:
                raise OSError(errno.EBUSY, "busy")
        if len(set(id(l) for l in lines)) != len(lines):
            raise OSError(errno.EBUSY, "the same line twice")
        for line in lines:
            self.fault(line, "request")
        for line in lines:
            line.holder = conn
            # gpiod_request with an empty label: the kernel names the consumer "?".
            line.consumer = consumer or "?"
            line.flags = flags
            line.apply_bias(flags)
        conn.lines = lines

    def request_handle(self, conn, args):
        chip, flags, consumer = args[0], int(args[1]), args[2]
        offsets = [int(v) for v in args[3].split(",")]
        defaults = [int(v) for v in args[4].split(",")]
        if not 1 <= len(offsets) <= 64 or not validate_handle_flags(flags):
            raise OSError(errno.EINVAL, "request")
        lines = [self.line(chip, offset) for offset in offsets]
        self.take(conn, lines, consumer, flags)
        conn.kind, conn.chip = "handle", chip
        for line, value in zip(lines, defaults):
            if flags & H_OUTPUT:
                line.set_output(value)
            elif flags & H_INPUT:
                line.direction = "input"
        return "0"

    def request_event(self, conn, args):
        chip, offset, hflags, eflags, consumer = args[0], int(args[1]), int(args[2]), int(args[3]), args[4]
        if hflags & ~H_VALID or eflags & ~(E_RISING | E_FALLING):
            raise OSError(errno.EINVAL, "flags")
        # lineevent_create: an event line is an input; output and drive flags are refused.
        if hflags & (H_OUTPUT | H_OPEN_DRAIN | H_OPEN_SOURCE):
            raise OSError(errno.EINVAL, "flags")
        if not validate_handle_flags(hflags | H_INPUT):
            raise OSError(errno.EINVAL, "flags")
        line = self.line(chip, offset)
        self.take(conn, [line], consumer, hflags | H_INPUT)
        line.direction = "input"
        conn.kind, conn.chip, conn.eventflags = "event", chip, eflags
        return "0"

    def release(self, conn):
        for line in conn.lines:
            if line.holder is conn:
                line.holder = None
                line.consumer = ""
                line.flags = 0  # active-low etc. are cleared; direction and level are not
        conn.lines = []
        conn.queue = []

    # ------------------------------------------------------------------ edges

    def holder_events(self, line):
        holder = line.holder
        if isinstance(holder, Conn) and holder.kind == "event":
            return holder
        return None

    def world_drive(self, line, level):
        before = line.physical()
        line.world = level
        after = line.physical()
        conn = self.holder_events(line)
        if before == after or conn is None:
            return None
        logical = after ^ line.active_low
        event = E_RISING if logical else E_FALLING
        if not conn.eventflags & event:
            return None
        ns = time.monotonic_ns()
        if len(conn.queue) >= KFIFO_EVENTS:
            conn.dropped += 1  # kfifo_in on a full fifo: the newest edge is lost
            return ns
        conn.queue.append((ns, event))
        if len(conn.queue) == 1:
            self.ring(conn)
        return ns

    # ------------------------------------------------------------------ world

    def on_world(self, req):
        chip = self.chip_name(req["chip"])
        line = self.line(chip, int(req["offset"]))
        op = req["op"]
        if op == "drive":
            levels = req["levels"] if "levels" in req else [req.get("level")]
            stamps = [self.world_drive(line, level) for level in levels]
            return {"ns": stamps[-1] if "levels" not in req else None, "stamps": stamps}
        if op == "level":
            held = line.holder is not None
            return {
                "level": line.physical(),
                "held": held,
                "consumer": line.consumer if held else None,
                "direction": line.direction,
                "debounceMs": 0 if held else None,
            }
        if op == "history":
            return {"levels": list(line.history)}
        if op == "fault":
            self.faults[(chip, line.offset, req.get("on", "write"))] = int(req.get("errno", errno.EIO))
            return {}
        if op == "claim":
            consumer = req.get("consumer")
            if consumer is None:
                if line.holder == "kernel":
                    line.holder, line.consumer = None, ""
            elif line.holder is not None:
                raise ValueError("line is held")
            else:
                line.holder, line.consumer = "kernel", consumer
            return {}
        if op == "stats":
            conn = self.holder_events(line)
            return {"queued": len(conn.queue) if conn else 0, "dropped": conn.dropped if conn else 0}
        raise ValueError("unknown op %r" % op)

    def world_input(self):
        chunk = os.read(sys.stdin.fileno(), 65536)
        if not chunk:
            return False
        self.world_buf += chunk
        while b"\n" in self.world_buf:
            raw, self.world_buf = self.world_buf.split(b"\n", 1)
            if not raw.strip():
                continue
            req = json.loads(raw)
            answer = {"id": req.get("id"), "ok": True}
            try:
                answer.update(self.on_world(req))
            except Exception as error:  # the test sees the failure, the kernel keeps going
                answer = {"id": req.get("id"), "ok": False, "error": "%s: %s" % (type(error).__name__, error)}
            out = (json.dumps(answer) + "\n").encode()
            while out:
                out = out[os.write(1, out):]
        return True

    def run(self):
        os.write(1, (json.dumps({"ready": True}) + "\n").encode())
        while True:
            for key, _ in self.sel.select():
                if key.data == "accept":
                    sock, _ = self.listener.accept()
                    conn = Conn(sock)
                    self.sel.register(sock, selectors.EVENT_READ, conn)
                elif key.data == "world":
                    if not self.world_input():
                        return
                else:
                    conn = key.data
                    try:
                        data = conn.sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        self.sel.unregister(conn.sock)
                        conn.sock.close()
                        self.release(conn)
                        continue
                    self.on_request(conn, data.decode("utf-8", "replace"))


if __name__ == "__main__":
    Kernel(sys.argv[1], sys.argv[2]).run()
