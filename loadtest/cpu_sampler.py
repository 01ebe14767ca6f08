#!/usr/bin/env python3
"""CPU of groups of processes over a load run, for `loadtest/run --replicas N`.

safequiz-loadgen measures one service process (`--service-pid`) over exactly its measured window.
Behind nginx there are N replicas and nginx's own workers, so this samples them from /proc instead:

  cpu_sampler.py sample --out FILE --redis-port PORT [--every SECS] NAME=PID[,PID...] ...
      Every SECS (0.05 by default) appends one line: the wall time, Redis's
      `total_commands_processed`, the machine's busy CPU (/proc/stat) and each group's user plus
      system CPU (/proc/PID/stat, all threads and reaped children), all CPU figures in µs.
      Runs until killed.

  cpu_sampler.py window --samples FILE (--resets | --from T --to T) --out JSON
      Cuts a window out of the samples and writes each group's CPU in it. `--resets` finds the
      ceiling's measured phase: safequiz-loadgen runs `CONFIG RESETSTAT` just before it and again
      just after (for its per-script phases), and a reset shows as Redis's command count going
      down. The window's edges are known to one sampling interval, so its CPU is interpolated at
      the middle of the interval holding each reset.
"""

import argparse
import json
import os
import socket
import sys
import time

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def process_cpu_micros(pid):
    """User plus system CPU of `pid` (all its threads) and of the children it has waited for
    (Redis's AOF rewrites), µs, as safequiz-loadgen counts it; None once it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime, stime, cutime and cstime are fields 14 to 17 of the line, 12 to 15 after the name.
    return sum(int(fields[i]) for i in range(11, 15)) * 1_000_000 // TICKS_PER_SECOND


def machine_busy_micros():
    """CPU time of the whole machine spent outside idle and I/O wait, µs, over all cores."""
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    # guest and guest_nice (the last two) are already counted in user and nice.
    return (sum(ticks[:8]) - idle) * 1_000_000 // TICKS_PER_SECOND


class Redis:
    """A bare RESP connection: `INFO stats` twenty times a second costs Redis next to nothing."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buffer = b""

    def _line(self):
        while b"\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def commands_processed(self):
        self.sock.sendall(b"INFO stats\r\n")
        length = int(self._line()[1:])
        while len(self.buffer) < length + 2:
            self.buffer += self.sock.recv(65536)
        body, self.buffer = self.buffer[:length], self.buffer[length + 2 :]
        for line in body.decode().splitlines():
            if line.startswith("total_commands_processed:"):
                return int(line.split(":", 1)[1])
        return 0


def sample(args):
    groups = []
    for spec in args.groups:
        name, _, pids = spec.partition("=")
        groups.append((name, [int(p) for p in pids.split(",") if p]))
    redis = Redis(args.redis_port)
    last = {}
    with open(args.out, "w", buffering=1) as out:
        out.write("# time commands machine " + " ".join(name for name, _ in groups) + "\n")
        while True:
            values = []
            for name, pids in groups:
                total = 0
                for pid in pids:
                    cpu = process_cpu_micros(pid)
                    # A process that has exited keeps the CPU it had used.
                    if cpu is None:
                        cpu = last.get(pid, 0)
                    last[pid] = cpu
                    total += cpu
                values.append(total)
            line = [f"{time.time():.4f}", str(redis.commands_processed())]
            line.append(str(machine_busy_micros()))
            out.write(" ".join(line + [str(v) for v in values]) + "\n")
            time.sleep(args.every)


def window(args):
    names = []
    rows = []
    with open(args.samples) as samples:
        for line in samples:
            if line.startswith("#"):
                names = line.split()[1:]
                continue
            fields = line.split()
            if len(fields) == len(names):
                rows.append([float(fields[0])] + [int(x) for x in fields[1:]])
    if len(rows) < 2:
        sys.exit("cpu_sampler: fewer than two samples")

    def interpolate(t):
        """Every column at time t, linear between the samples around it."""
        for before, after in zip(rows, rows[1:]):
            if before[0] <= t <= after[0]:
                share = (t - before[0]) / max(after[0] - before[0], 1e-9)
                return [b + (a - b) * share for b, a in zip(before, after)]
        return list(rows[0] if t < rows[0][0] else rows[-1])

    if args.resets:
        commands = names.index("commands")
        resets = [
            (before[0] + after[0]) / 2
            for before, after in zip(rows, rows[1:])
            if after[commands] < before[commands]
        ]
        if len(resets) < 2:
            sys.exit("cpu_sampler: the ceiling's measured phase was not found (no two resets)")
        start, end = resets[0], resets[1]
        # Each edge lies within one sampling interval, half of it either side of the middle.
        edge = (rows[-1][0] - rows[0][0]) / (len(rows) - 1) / 2
    else:
        start, end, edge = args.start, args.end, 0.0
    first, last = interpolate(start), interpolate(end)
    cpu = {
        name: last[i] - first[i]
        for i, name in enumerate(names)
        if name not in ("time", "commands")
    }
    result = {
        "start": start,
        "end": end,
        "seconds": end - start,
        "edge_uncertainty_seconds": edge,
        "cpu_us": cpu,
        "cores_busy": {name: micros / 1e6 / max(end - start, 1e-9) for name, micros in cpu.items()},
    }
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("sample")
    s.add_argument("--out", required=True)
    s.add_argument("--redis-port", type=int, required=True)
    s.add_argument("--every", type=float, default=0.05)
    s.add_argument("groups", nargs="+", metavar="NAME=PID[,PID...]")
    w = commands.add_parser("window")
    w.add_argument("--samples", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--resets", action="store_true")
    w.add_argument("--from", dest="start", type=float)
    w.add_argument("--to", dest="end", type=float)
    args = parser.parse_args()
    if args.command == "sample":
        sample(args)
    else:
        if not args.resets and (args.start is None or args.end is None):
            parser.error("window needs --resets or both --from and --to")
        window(args)


if __name__ == "__main__":
    main()
