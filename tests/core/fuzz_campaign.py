"""A long fuzz campaign over random programs and random schedules (tests/core/random_compute.py),
in child processes of `--chunk` seeds each, so that a crash costs one seed (it is recorded as a
crash and the campaign goes on). Every failure is written as a runnable script.

    python -m tests.core.fuzz_campaign --start 0 --count 10000 --out /tmp/fuzz
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

CHILD = """
import sys
from tests.core.test_fuzz_schedules import check_program
start, stop, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(out + '/progress.log', 'a') as log:
    for seed in range(start, stop):
        log.write(f'start {seed}\\n'); log.flush()
        report = check_program(seed)
        if report:
            with open(f'{out}/fail_{seed}.txt', 'w') as f:
                f.write(report)
        log.write(f'{"FAIL" if report else "ok"} {seed}\\n'); log.flush()
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--out", default="fuzz-campaign")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per chunk")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    seed, stop, t0 = a.start, a.start + a.count, time.time()
    while seed < stop:
        end = min(stop, seed + a.chunk)
        try:
            rc = subprocess.run([sys.executable, "-c", CHILD, str(seed), str(end), a.out], env=env, cwd=root,
                                timeout=a.timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        last = _last_started(a.out)
        if rc != 0 and last is not None and seed <= last < end:
            with open(f"{a.out}/fail_{last}.txt", "w") as f:
                f.write(f"seed {last}: the process died ({rc}) while checking it\n")
            with open(f"{a.out}/progress.log", "a") as f:
                f.write(f"CRASH {last}\n")
            seed = last + 1
        else:
            seed = end
        print(f"{seed - a.start}/{a.count} seeds, {time.time() - t0:.0f} s", flush=True)


def _last_started(out):
    try:
        with open(f"{out}/progress.log") as f:
            lines = f.read().split("\n")
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("start "):
            return int(line.split()[1])
    return None


if __name__ == "__main__":
    main()
