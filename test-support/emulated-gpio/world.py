"""The world outside an emulated GPIO chip: buttons, wires, faults.

    python3 world.py <dir> <fixture.json>

sets up the emulated kernel's state in <dir> from a fixture (real line-name
tables), then takes newline-delimited JSON commands on stdin and answers each
on stdout:

    {"id":1,"op":"drive","chip":"pinctrl-rp1","offset":17,"level":0}   press (null: let go, the bias decides)
    {"id":1,"op":"drive","chip":"pinctrl-rp1","offset":17,"levels":[0,1]}   a burst of edges in one go
    {"id":2,"op":"level","chip":"pinctrl-rp1","offset":5}               level, held, consumer, direction
    {"id":3,"op":"fault","chip":"pinctrl-rp1","offset":5,"errno":5}     the next write to the line fails (EIO)
    {"id":4,"op":"history","chip":"pinctrl-rp1","offset":5}             every level the line was driven to
    {"id":5,"op":"stall","chip":"pinctrl-rp1","offset":5,"on":true}     the next write to the line waits (false: lets it go);
                                                                         "level" answers "stalled": true while a writer waits

Edges reach the holder as the kernel sends them: stamped with CLOCK_MONOTONIC
and, where the holder asked for v2 debounce, only once the level has been
stable for the period (the kernel's software debounce).
"""

import json
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pythonpath"))
import fakekernel as k  # noqa: E402


def setup(root, fixture):
    with open(fixture) as f:
        table = json.load(f)
    for sub in ("dev", "lines", "world", "faults", "ev"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    chips = {}
    for chip in table["chips"]:
        chips[chip["name"]] = {"label": chip["label"], "names": chip["names"]}
        open(os.path.join(root, "dev", chip["name"]), "a").close()
    with open(os.path.join(root, "chips.json"), "w") as f:
        json.dump(chips, f)
    os.environ["FAKE_GPIO_DIR"] = root


def chip_name(desc):
    name = k.chip_for_path(desc)
    if name is None:
        raise ValueError("no chip %r" % (desc,))
    return name


class World(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.debounce = {}  # (chip, offset) -> {"stable": logical level, "timer": Timer}

    def drive(self, chip, offset, level):
        ns = None
        with k.mutex():
            cfg = k.config(chip, offset)
            before = k.physical(chip, offset, cfg)
            path = os.path.join(k.root(), "world", "%s-%d" % (chip, offset))
            if level is None:
                if os.path.exists(path):
                    os.unlink(path)
            else:
                with open(path, "w") as f:
                    f.write(str(level))
            after = k.physical(chip, offset, cfg)
            if cfg is None or cfg["direction"] != "input" or cfg["edge"] == "none" or before == after:
                return None
            invert = 1 if cfg["active_low"] else 0
            logical = after ^ invert
            if cfg["debounce_ms"] > 0:
                self.debounced(chip, offset, before ^ invert, cfg["debounce_ms"])
                return None
            if self.matches(cfg, logical):
                ns = k.now_ns()
                k.deliver(chip, offset, logical == 1, ns)
        return ns

    @staticmethod
    def matches(cfg, logical):
        return cfg["edge"] == "both" or (cfg["edge"] == "rising") == (logical == 1)

    def debounced(self, chip, offset, previous, ms):
        key = (chip, offset)
        with self.lock:
            entry = self.debounce.setdefault(key, {"stable": previous, "timer": None})
            if entry["timer"] is not None:
                entry["timer"].cancel()
            timer = threading.Timer(ms / 1000.0, self.settle, (chip, offset))
            entry["timer"] = timer
            timer.daemon = True
            timer.start()

    def settle(self, chip, offset):
        key = (chip, offset)
        with self.lock, k.mutex():
            entry = self.debounce[key]
            entry["timer"] = None
            cfg = k.config(chip, offset)
            if cfg is None or cfg["direction"] != "input":
                return
            logical = k.physical(chip, offset, cfg) ^ (1 if cfg["active_low"] else 0)
            if logical == entry["stable"]:
                return  # bounced back: the kernel reports nothing
            entry["stable"] = logical
            if self.matches(cfg, logical):
                k.deliver(chip, offset, logical == 1, k.now_ns())

    def level(self, chip, offset):
        with k.mutex():
            cfg = k.config(chip, offset)
            return {
                "level": k.physical(chip, offset, cfg),
                "held": cfg is not None,
                "consumer": cfg["consumer"] if cfg else None,
                "direction": cfg["direction"] if cfg else ("output" if k.kept(chip, offset) is not None else None),
                "debounceMs": cfg["debounce_ms"] if cfg else None,
                "stalled": os.path.exists(os.path.join(k.root(), "faults", "%s-%d.stalled" % (chip, offset))),
            }

    def fault(self, chip, offset, code):
        with open(os.path.join(k.root(), "faults", "%s-%d" % (chip, offset)), "w") as f:
            f.write(str(int(code)))


def main():
    setup(sys.argv[1], sys.argv[2])
    world = World()
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for raw in sys.stdin:
        if not raw.strip():
            continue
        req = json.loads(raw)
        answer = {"id": req.get("id"), "ok": True}
        try:
            chip = chip_name(req["chip"])
            offset = int(req["offset"])
            if req["op"] == "drive" and "levels" in req:
                answer["stamps"] = [world.drive(chip, offset, level) for level in req["levels"]]
            elif req["op"] == "drive":
                answer["ns"] = world.drive(chip, offset, req.get("level"))
            elif req["op"] == "level":
                answer.update(world.level(chip, offset))
            elif req["op"] == "history":
                answer["levels"] = k.history(chip, offset)
            elif req["op"] == "stall":
                path = os.path.join(k.root(), "faults", "%s-%d.stall" % (chip, offset))
                if req.get("on", True):
                    open(path, "w").close()
                elif os.path.exists(path):
                    os.unlink(path)
            elif req["op"] == "fault":
                if req.get("on", "write") != "write":
                    raise ValueError("the v2 double injects write faults only")
                world.fault(chip, offset, req.get("errno", 5))
            else:
                raise ValueError("unknown op %r" % (req["op"],))
        except Exception as error:  # the test sees the failure, the world keeps going
            answer = {"id": req.get("id"), "ok": False, "error": "%s: %s" % (type(error).__name__, error)}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
