"""Schedule Workbench: tensor expressions, schedules, lowering and LLVM code generation.

    import workbench as wb
    from workbench import te
    s = wb.create_schedule(C); print(wb.lower(s, [A, B, C])); f = wb.build(s, [A, B, C])
"""
from . import ir, te
from .lower import PassContext, Pipeline
from .lower import lower as _lower
from .lower.bounds_check import BoundsError
from .schedule import Schedule, ScheduleError, ScheduleWarning, Stage, Trace, create_schedule


def lower(sch, args, name: str = "main", *, stop_after: str | None = None, ctx: PassContext | None = None,
          **options):
    """The lowered loop IR of `sch` with parameters `args`; print it to read it.

    Options: `stop_after="storage_flatten"` stops after that pass; `ctx=wb.PassContext(...)` or
    keywords (keep_trivial_loops=True, bounds_checks=False, unroll_limit=..., verify=True) set the
    pass context; `pipeline=` runs a backend's pipeline. `func.after("vectorize")` prints the IR
    after one pass."""
    return _lower(sch, args, name, stop_after=stop_after, ctx=ctx, **options)


def build(sch, args, target: str = "llvm", name: str = "main"):
    """Lower and JIT-compile `sch`; returns a Kernel called as f(*arrays) (one per arg, in order)."""
    from .codegen import build_func
    if target != "llvm":
        raise ValueError(f"unknown target {target!r}; the CPU target is 'llvm' (VTA: accel.vta.build)")
    return build_func(_lower(sch, args, name), target=target)


__all__ = ["te", "ir", "create_schedule", "lower", "build", "Schedule", "Stage", "ScheduleError",
           "ScheduleWarning", "BoundsError", "PassContext", "Pipeline", "Trace"]
