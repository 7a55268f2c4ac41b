"""Times commands on the same tree, alternating them run by run.

Usage: python3 scripts/interleaved.py RUNS WARMUP CMD_JSON...

Each CMD_JSON is a JSON list (the argv). The commands run in turn, in reverse order
every other round (a, b, b, a, ...), so that load from other work on the machine hits
them alike; WARMUP rounds are run first and not counted. Prints one JSON object per
command: median and best wall time and median CPU time (user + system, from wait4),
in seconds.
"""
import json
import os
import statistics
import subprocess
import sys
import time

runs, warmup = int(sys.argv[1]), int(sys.argv[2])
cmds = [json.loads(c) for c in sys.argv[3:]]
wall = [[] for _ in cmds]
cpu = [[] for _ in cmds]
for i in range(warmup + runs):
    order = list(range(len(cmds)))
    if i % 2:
        order.reverse()
    for k in order:
        start = time.perf_counter()
        # stdin from /dev/null: rg searches a piped stdin instead of the tree.
        proc = subprocess.Popen(cmds[k], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if i >= warmup:
            wall[k].append(elapsed)
            cpu[k].append(usage.ru_utime + usage.ru_stime)
for k in range(len(cmds)):
    print(json.dumps({"median": statistics.median(wall[k]), "best": min(wall[k]),
                      "cpu": statistics.median(cpu[k])}))
