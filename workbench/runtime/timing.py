"""Timing of built kernels: repeat a call `number` times per measurement, `repeat` measurements."""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class TimingResult:
    """Seconds per call: statistics over `repeat` measurements of `number` calls each."""
    median: float
    mean: float
    min: float
    max: float
    stdev: float
    number: int
    repeat: int
    results: tuple = ()

    def __str__(self):
        return (f"{self.median * 1e3:.4f} ms median per call (mean {self.mean * 1e3:.4f}, "
                f"min {self.min * 1e3:.4f}, max {self.max * 1e3:.4f}, stdev {self.stdev * 1e3:.4f}; "
                f"{self.repeat} x {self.number} calls)")

    def gflops(self, flops: float) -> float:
        """GFLOP/s at the median time for a call doing `flops` floating-point operations."""
        return flops / self.median / 1e9


def measure(run, *, number: int | None = None, repeat: int = 5, min_time: float = 0.1) -> TimingResult:
    """`run(n)` calls the kernel n times and returns the elapsed seconds (the caller's loop)."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    if number is None:
        n, t = 1, run(1)
        while t < 0.2 * min_time and n < 1 << 30:
            n = n * 10 if t <= 0 else max(n + 1, math.ceil(n * 0.25 * min_time / t))
            t = run(n)
        number = max(1, math.ceil(min_time * n / t)) if t > 0 else n
    elif number < 1:
        raise ValueError(f"number must be >= 1, got {number}")
    per_call = tuple(run(number) / number for _ in range(repeat))
    return TimingResult(median=statistics.median(per_call), mean=statistics.fmean(per_call),
                        min=min(per_call), max=max(per_call),
                        stdev=statistics.stdev(per_call) if repeat > 1 else 0.0,
                        number=number, repeat=repeat, results=per_call)


def timer(fn, args):
    """A `run(n)` for `measure` that calls fn(*args) n times."""
    perf = time.perf_counter

    def run(n):
        t = perf()
        for _ in range(n):
            fn(*args)
        return perf() - t
    return run
