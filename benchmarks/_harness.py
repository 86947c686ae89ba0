"""Shared by the benchmark scripts: timing of Python callables and kernels, numpy thread control,
and printing tables. Everything is a ratio against numpy measured in the same process, numpy
first, because absolute times drift on shared machines."""
from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import contextmanager

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from threadpoolctl import threadpool_limits  # noqa: E402


def median_time(fn, min_time: float = 0.2, repeat: int = 5) -> float:
    """Median seconds per call over `repeat` batches, each batch lasting about `min_time`."""
    fn()                                             # warm caches, page in buffers
    t = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t, 1e-7)
    number = max(1, int(min_time / one))
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t) / number)
    return statistics.median(runs)


@contextmanager
def numpy_threads(n: int):
    with threadpool_limits(limits=n):
        yield


def kernel_time(kernel, args, threads: int) -> float:
    kernel.num_threads = threads
    return median_time(lambda: kernel(*args))


def table(title: str, header: list, rows: list):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"
