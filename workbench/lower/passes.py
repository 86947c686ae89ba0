"""The lowering pipeline, in one place: every pass is `(PrimFunc, PassContext) -> PrimFunc`, run
in this order; each one's output is kept in `PrimFunc.history`, so `func.after("vectorize")` prints
it. Phases mark where a backend adds passes (see pass_manager.Pipeline.with_passes)."""
from __future__ import annotations

import warnings
from dataclasses import replace

from ..ir.simplify import simplify_stmt
from ..schedule.errors import ScheduleWarning
from .bounds_check import bounds_check
from .flatten import storage_flatten
from .parallel import serialize_nested_parallel
from .partition import loop_partition
from .pass_manager import Pass, Phase, Pipeline
from .unroll import unroll
from .vectorize import vectorize


def _simplify(func, ctx):
    return replace(func, body=simplify_stmt(func.body, keep_trivial_loops=ctx.keep_trivial_loops))


def _loop_partition(func, ctx):
    return replace(func, body=loop_partition(func.body, keep_trivial_loops=ctx.keep_trivial_loops))


def _bounds_check(func, ctx):
    return replace(func, body=bounds_check(func.body, func.loop_stage, checks=ctx.bounds_checks))


def _warner(func, ctx):
    """on_note callback: a ScheduleWarning naming primitive, stage and axis (if ctx wants them)."""
    def on_note(primitive, var, why):
        if ctx.warnings:
            stage = func.loop_stage.get(var)
            where = f" on stage {stage!r}" if stage else ""
            warnings.warn(ScheduleWarning(f"{primitive}(axis={var.name}){where} is not honoured: {why}; "
                                          "the loop runs serially"), stacklevel=2)
    return on_note


def _nested_parallel(func, ctx):
    return replace(func, body=serialize_nested_parallel(func.body, _warner(func, ctx)))


def _unroll(func, ctx):
    return replace(func, body=unroll(func.body, ctx.auto_unroll_max_step, limit=ctx.unroll_limit,
                                     origin=func.loop_stage))


def _storage_flatten(func, ctx):
    return replace(func, body=storage_flatten(func.body))


def _vectorize(func, ctx):
    return replace(func, body=vectorize(func.body, _warner(func, ctx), unroll_limit=ctx.unroll_limit,
                                        origin=func.loop_stage))


DEFAULT_PIPELINE = Pipeline((
    Phase("schedule"),                          # backends: the loop nest straight from the schedule
    Pass("simplify", _simplify),                # fold constants, canonicalize indices, drop unit loops
    Pass("loop_partition", _loop_partition),    # split tails off so main loops carry no guards
    Pass("bounds_check", _bounds_check),        # provably out of bounds: error; unprovable: run-time check
    Pass("nested_parallel", _nested_parallel),  # a parallel loop inside one runs serially
    Phase("before_flatten"),                    # backends: accesses are still C[i, j]
    Pass("storage_flatten", _storage_flatten),  # multi-dimensional indices -> flat row-major index
    Phase("after_flatten"),
    Pass("vectorize", _vectorize),              # `vectorize` loops -> Ramp/Broadcast vector statements
    Pass("unroll", _unroll),                    # `unroll` loops and auto_unroll_max_step pragmas
    Pass("final_simplify", _simplify),          # clean up what unrolling and vectorizing exposed
    Phase("before_codegen"),                    # backends: the final IR
))

PASS_NAMES = DEFAULT_PIPELINE.pass_names
