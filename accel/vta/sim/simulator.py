"""``vta.Simulator``: runs a Program through the timing model and the functional model.

The timing model always runs: it yields cycles, per-module busy/stall time and events, detects
deadlock, and fixes an execution order consistent with the dependency tokens.  The functional
model then executes the instructions in that order, so a program with a missing token shows the
same race it would on hardware instead of silently running in program order.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..disasm import mnemonic
from ..program import DRAM_BASE, Program
from . import timing
from .blas import single_thread
from .functional import FunctionalState
from .timing import MODULES, Event


class TokenLeakWarning(UserWarning):
    """Dependency tokens were left in a queue when the program finished."""


@dataclass(frozen=True)
class Stats:
    """Totals of one run.  ``counters`` use VTA fsim's names; times are in cycles."""
    cycles: int
    counters: dict
    busy: dict
    stall: dict
    stall_by_cause: dict
    gemm_cycles: int
    tokens_left: dict
    freq_mhz: int
    macs_per_cycle: int

    @property
    def utilization(self) -> float:
        """Compute utilization: fraction of cycles the GEMM core spends on micro-op iterations."""
        return self.gemm_cycles / self.cycles if self.cycles else 0.0

    @property
    def seconds(self) -> float:
        return self.cycles / (self.freq_mhz * 1e6)

    @property
    def macs(self) -> int:
        return self.counters["gemm_counter"] * self.macs_per_cycle

    @property
    def gops(self) -> float:
        """Achieved throughput, counting a multiply-accumulate as 2 ops."""
        return 2 * self.macs / self.seconds / 1e9 if self.cycles else 0.0

    def idle(self, module: str) -> int:
        return self.cycles - self.busy[module] - self.stall[module]

    def __getitem__(self, key):
        return self.counters[key]

    def as_dict(self) -> dict:
        return dict(cycles=self.cycles, utilization=self.utilization, seconds=self.seconds,
                    busy=dict(self.busy), stall=dict(self.stall), tokens_left=self.tokens_left,
                    **self.counters)

    def summary(self) -> str:
        lines = [f"cycles {self.cycles:,} ({self.seconds * 1e3:.3f} ms @ {self.freq_mhz} MHz), "
                 f"compute utilization {self.utilization:.1%}"]
        for m in MODULES:
            lines.append(f"  {m:<8} busy {self.busy[m]:>12,}  stall {self.stall[m]:>12,}  "
                         f"idle {self.idle(m):>12,}")
        lines.append("  " + ", ".join(f"{k}={v:,}" for k, v in self.counters.items()))
        if self.tokens_left:
            lines.append(f"  tokens left at FINISH: {self.tokens_left}")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class SimResult:
    outputs: dict
    stats: Stats
    schedule: timing.Schedule = field(repr=False)
    program: Program = field(repr=False)
    dram: np.ndarray | None = field(default=None, repr=False)

    @functools.cached_property
    def events(self) -> list:
        """Timeline intervals ordered by start time (module, index, opcode, start, end, ...)."""
        insns = self.program.insns
        evs = [Event(m, i, mnemonic(insns[i]), a, b, kind, why)
               for m, i, a, b, kind, why in self.schedule.raw_events]
        evs.sort(key=lambda ev: (ev.start, MODULES.index(ev.module)))
        return evs

    def chrome_trace(self) -> dict:
        from .trace import chrome_trace
        return chrome_trace(self)

    def save_trace(self, path) -> None:
        """Write a Chrome-trace JSON file (open it in Perfetto or chrome://tracing)."""
        import json
        with open(path, "w") as fh:
            json.dump(self.chrome_trace(), fh)


class Simulator:
    """``Simulator(env).run(prog, inputs)``; ``functional=False`` skips data (timing only)."""

    def __init__(self, env=None, *, functional: bool = True, events: bool = True):
        from ..env import Env
        self.env = env if env is not None else Env.default()
        self.functional = functional
        self.record_events = events

    def run(self, prog: Program, inputs: dict | None = None) -> SimResult:
        if prog.env != self.env:
            raise ValueError(f"program was built for {prog.env}, simulator models {self.env}")
        sched = timing.simulate(prog.insns, self.env, self.record_events)
        stats = Stats(sched.cycles, timing.counters(prog.insns, self.env), sched.busy,
                      sched.stall, sched.stall_by_cause, sched.gemm_cycles, sched.tokens_left,
                      self.env.HW_FREQ, self.env.MACS_PER_CYCLE)
        if sched.tokens_left:
            warnings.warn(f"tokens left in dependency queues at FINISH: {sched.tokens_left}",
                          TokenLeakWarning, stacklevel=2)
        outputs, image = {}, None
        if self.functional:
            image = prog.with_inputs(inputs)
            state = FunctionalState(self.env, image)
            insns = prog.insns
            with single_thread():
                for idx in sched.order():
                    state.execute(insns[idx], idx)
            outputs = _stored_buffers(prog, state.stored, image)
        return SimResult(outputs, stats, sched, prog, image)


def _stored_buffers(prog: Program, ranges, image) -> dict:
    """Named buffers that some STORE wrote into, viewed in their allocated shape."""
    out = {}
    for info in prog.buffers:
        lo, hi = info.phys_addr - DRAM_BASE, info.phys_addr - DRAM_BASE + info.nbytes
        if any(a < hi and b > lo for a, b in ranges):
            out[info.name] = info.view(image).copy()
    return out
