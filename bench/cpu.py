#!/usr/bin/env python3
"""CPU time by program name, for load benchmarks: `cpu.py snap FILE` records every process's
user+system time; `cpu.py diff FILE SECONDS` prints, per program, the CPU it used since the
snapshot as a share of one core over SECONDS (processes that ended in between are not counted;
those started since count from zero)."""
import json
import os
import sys


def snapshot():
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1 : s.rindex(")")]
        fields = s[s.rindex(")") + 2 :].split()
        out[pid] = (comm, (int(fields[11]) + int(fields[12])) / tick)
    return out


def main():
    if sys.argv[1] == "snap":
        with open(sys.argv[2], "w") as f:
            json.dump(snapshot(), f)
        return
    with open(sys.argv[2]) as f:
        before = json.load(f)
    secs = float(sys.argv[3])
    by = {}
    for pid, (comm, t) in snapshot().items():
        t0 = before.get(pid, [comm, 0.0])[1]
        name = "postgres" if comm.startswith("postgres") else comm
        by[name] = by.get(name, 0.0) + (t - t0)
    total = sum(by.values())
    parts = [f"{n} {v / secs:.2f}" for n, v in sorted(by.items(), key=lambda kv: -kv[1]) if v / secs >= 0.02]
    print(f"cores busy {total / secs:.2f}: " + ", ".join(parts))


main()
