"""The explorer's model, without widgets: an operator, a trace with undo/redo, the legal next
moves, and the evaluation of one step (lower, build, check against numpy, time, analyze).

The schedule is data: the session keeps only traces and rebuilds a schedule by replaying a trace on
a fresh `create_schedule` of the same tensors, so undo/redo, diffs and exports are all traces.
Legal choices are found by trying each candidate primitive on a replayed schedule: the core's own
checks decide, so the UI never offers a move the core would refuse.
"""
from __future__ import annotations

import difflib
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

import workbench as wb
from workbench.schedule.errors import ScheduleError
from workbench.schedule.trace import Trace
from workbench.te.tensor import ComputeOp

from .analysis import Analysis, analyze

ANNOTATIONS = ("vectorize", "parallel", "unroll")


@dataclass(frozen=True)
class Workload:
    """What is being scheduled: tensors (inputs..., output) and how to check and count it."""
    name: str
    params: dict
    args: tuple                       # te tensors in call order, outputs last
    flops: int
    reference: object = None          # fn(*input arrays) -> expected output, or None
    inputs: tuple = ()                # numpy input arrays

    @staticmethod
    def from_catalog(op_name: str, **params) -> "Workload":
        from kernels import registry
        op = registry.get(op_name)
        params = params or dict(op.default_params)
        inputs, out = op.make(**params)
        arrays = tuple(op.random_inputs(seed=0, **params))
        return Workload(op_name, dict(params), tuple(inputs) + (out,), op.flops(**params),
                        lambda *a: op.reference(*a, **params), arrays)

    @staticmethod
    def from_tensors(args, *, name: str = "custom", flops: int | None = None, reference=None,
                     seed: int = 0) -> "Workload":
        from kernels.registry import random_arrays
        args = tuple(args)
        out = args[-1]
        if not isinstance(out.op, ComputeOp):
            raise TypeError("the last argument must be a computed tensor (the output)")
        if flops is None:     # one multiply-add per reduction point, one op per output otherwise
            red = int(np.prod([iv.extent for iv in out.op.reduce_axis], dtype=np.int64))
            flops = int(np.prod(out.shape, dtype=np.int64)) * (2 * red if red > 1 else 1)
        return Workload(name, {}, args, int(flops), reference, tuple(random_arrays(args[:-1], seed)))

    @property
    def output(self):
        return self.args[-1]

    def title(self) -> str:
        ps = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name} {ps}".strip()


@dataclass
class StepResult:
    """What one trace evaluates to. `error` is set (and the numbers None) when a phase failed."""
    trace: Trace
    ir: str = ""
    analysis: Analysis | None = field(default=None, repr=False)
    lower_s: float = 0.0
    build_s: float = 0.0
    seconds: float | None = None
    gflops: float | None = None
    max_abs_err: float | None = None
    correct: bool | None = None
    predicted: float | None = None
    error: str | None = None
    schedule_text: str = ""
    preliminary: bool = False        # seconds/gflops are one call's, the median is coming


class ExplorerSession:
    """Trace, undo/redo and evaluation for one workload.

    `cost_model`, if given, is called as cost_model(schedule, args) -> predicted GFLOP/s (or any
    score) and shown next to the measurement."""

    def __init__(self, workload: Workload, *, cost_model=None, min_time: float = 0.05, repeat: int = 3):
        self.workload = workload
        self.cost_model = cost_model
        self.min_time, self.repeat = min_time, repeat
        self.history: list[Trace] = [Trace()]      # history[k] = the trace after k steps
        self.position = 0
        self._results: dict = {}                   # trace json -> StepResult
        self._expected = None

    # -- trace and undo/redo ------------------------------------------------------------------
    @property
    def trace(self) -> Trace:
        return self.history[self.position]

    def schedule(self, trace: Trace | None = None):
        s = wb.create_schedule(self.workload.output)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (trace if trace is not None else self.trace).replay(s)
        return s

    def apply(self, primitive: str, stage: str | None, *args, **kwargs) -> Trace:
        """Apply one primitive (raises wb.ScheduleError if illegal); drops any redo branch."""
        s = self.schedule()
        target = s if stage is None else s[stage]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(target, primitive)(*args, **kwargs)
        del self.history[self.position + 1:]
        self.history.append(s.trace)
        self.position += 1
        return s.trace

    def load_trace(self, trace: Trace) -> None:
        """Replace the steps by `trace`'s (each a step of the history, so undo walks back)."""
        self.schedule(trace)                      # raises if it does not replay
        self.history = [trace[:n] for n in range(len(trace) + 1)]
        self.position = len(trace)

    def undo(self) -> bool:
        if self.position == 0:
            return False
        self.position -= 1
        return True

    def redo(self) -> bool:
        if self.position >= len(self.history) - 1:
            return False
        self.position += 1
        return True

    @property
    def can_undo(self) -> bool:
        return self.position > 0

    @property
    def can_redo(self) -> bool:
        return self.position < len(self.history) - 1

    # -- legal choices --------------------------------------------------------------------------
    def _legal(self, primitive: str, stage: str | None, *args, **kwargs) -> bool:
        s = self.schedule()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(s if stage is None else s[stage], primitive)(*args, **kwargs)
        except (ScheduleError, KeyError, ValueError, TypeError):
            return False
        return True

    def stages(self) -> list:
        """Names of the compute stages (the ones with something to schedule)."""
        return [st.name for st in self.schedule().stages if not st.is_placeholder]

    def loops(self, stage: str) -> list:
        """(axis name, extent, kind, is_reduce) of the stage's leaf loops, outermost first."""
        st = self.schedule()[stage]
        if st.attach == "inline":
            return []
        return [(iv.name, iv.extent, st.kinds.get(iv, "serial"), iv.kind == "reduce")
                for iv in st.leaf_iter_vars]

    def split_factors(self, stage: str, axis: str) -> list:
        """(factor, divides) pairs for splitting `axis`: every divisor, then powers of two that
        leave a tail (allowed: lowering guards the tail)."""
        ext = next((e for n, e, _, _ in self.loops(stage) if n == axis), 0)
        if ext < 2 or not self._legal("split", stage, axis, factor=1):
            return []
        divs = [f for f in range(2, ext) if ext % f == 0]
        tails = [1 << p for p in range(1, ext.bit_length()) if (1 << p) < ext and ext % (1 << p)]
        return [(f, True) for f in divs] + [(f, False) for f in tails]

    def loop_choices(self, stage: str, axis: str) -> dict:
        """The legal moves on one loop: {"split": [(factor, divides)], "move_out": order or None,
        "move_in": order or None, "fuse_next": bool, "vectorize"/"parallel"/"unroll": bool}."""
        names = [n for n, _, _, _ in self.loops(stage)]
        if axis not in names:
            return {}
        p = names.index(axis)
        out = {"split": self.split_factors(stage, axis)}
        for key, q in (("move_out", p - 1), ("move_in", p + 1)):
            order = None
            if 0 <= q < len(names):
                order = list(names)
                order[p], order[q] = order[q], order[p]
                if not self._legal("reorder", stage, *order):
                    order = None
            out[key] = order
        out["fuse_next"] = p + 1 < len(names) and self._legal("fuse", stage, axis, names[p + 1])
        for prim in ANNOTATIONS:
            out[prim] = self._legal(prim, stage, axis)
        return out

    def stage_choices(self, stage: str) -> dict:
        """Where the stage can be computed and which cache stages can be added:
        {"compute_at": [(parent, axis)], "compute_inline": bool, "compute_root": bool,
         "cache_write": bool}."""
        s = self.schedule()
        st = s[stage]
        at = []
        for parent in s.stages:
            if parent is st or parent.is_placeholder or parent.attach == "inline":
                continue
            for iv in parent.leaf_iter_vars:
                if self._legal("compute_at", stage, parent.name, iv.name):
                    at.append((parent.name, iv.name))
                elif not at:
                    break                        # not a reader at all: skip its other axes
        return {"compute_at": at,
                "compute_inline": self._legal("compute_inline", stage),
                "compute_root": st.attach != "root" and self._legal("compute_root", stage),
                "cache_write": self._legal("cache_write", None, stage, "local")}

    # -- evaluation -----------------------------------------------------------------------------
    def expected(self) -> np.ndarray | None:
        if self._expected is None and self.workload.reference is not None:
            self._expected = np.asarray(self.workload.reference(*self.workload.inputs))
        return self._expected

    def cached(self, trace: Trace) -> StepResult | None:
        return self._results.get(trace.to_json())

    def lower_text(self, trace: Trace) -> tuple:
        """(schedule, printed IR, seconds) of a trace, without building."""
        s = self.schedule(trace)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            func = wb.lower(s, list(self.workload.args))
        return s, func, time.perf_counter() - t0

    def evaluate(self, trace: Trace | None = None, *, measure: bool = True, on_first=None) -> StepResult:
        """Lower, build, check and time `trace` (default: the current one). Never raises for a
        failing schedule: the failure is in `StepResult.error`. `on_first(result)` is called
        after the checking call with that one call's time (`preliminary` set), before the
        repeated timing, so a UI can show a number at once and refine it."""
        trace = self.trace if trace is None else trace
        key = trace.to_json()
        hit = self._results.get(key)
        if hit is not None and ((hit.seconds is not None and not hit.preliminary) or hit.error or not measure):
            return hit
        res = StepResult(trace)
        self._results[key] = res                 # visible (in progress) to results() and charts
        try:
            s, func, res.lower_s = self.lower_text(trace)
            res.ir, res.schedule_text = str(func), str(s)
            res.analysis = analyze(s)
            if self.cost_model is not None:
                res.predicted = float(self.cost_model(s, list(self.workload.args)))
            if measure:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    kernel = wb.build(s, list(self.workload.args))
                res.build_s = time.perf_counter() - t0
                out = np.zeros(self.workload.output.shape, self.workload.output.dtype)
                call = list(self.workload.inputs) + [out]
                t0 = time.perf_counter()
                kernel(*call)
                first = time.perf_counter() - t0
                exp = self.expected()
                if exp is not None:
                    res.max_abs_err = float(np.max(np.abs(out.astype(np.float64) - exp))) if out.size else 0.0
                    scale = float(np.max(np.abs(exp))) if exp.size else 1.0
                    res.correct = bool(np.allclose(out, exp, rtol=1e-3, atol=1e-4 * max(scale, 1.0)))
                if on_first is not None:
                    res.seconds, res.gflops = first, self.workload.flops / max(first, 1e-9) / 1e9
                    res.preliminary = True
                    on_first(res)
                tr = kernel.time(*call, repeat=self.repeat, min_time=self.min_time)
                res.seconds = tr.median
                res.gflops = self.workload.flops / tr.median / 1e9
                res.preliminary = False
        except Exception as e:   # a bad schedule must show its error in the UI, never kill it
            res.error = f"{type(e).__name__}: {e}"
        self._results[key] = res
        return res

    def diff(self, a: int, b: int) -> str:
        """Unified diff of the lowered IR after step a and after step b (indices into history)."""
        ta, tb = self.history[a], self.history[b]
        ia, ib = (str(self.lower_text(t)[1]).rstrip("\n") + "\n" for t in (ta, tb))
        return "".join(difflib.unified_diff(ia.splitlines(True), ib.splitlines(True),
                                            f"step {a}", f"step {b}", n=2))

    def results(self) -> list:
        """Measured results of steps 0..position (the redo branch is not shown), in order."""
        out = []
        for k, t in enumerate(self.history[:self.position + 1]):
            r = self.cached(t)
            if r is not None:
                out.append((k, r))
        return out
