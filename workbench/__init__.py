"""Schedule Workbench: tensor expressions, schedules, lowering and LLVM code generation.

    import workbench as wb
    from workbench import te
    s = wb.create_schedule(C); print(wb.lower(s, [A, B, C])); f = wb.build(s, [A, B, C])
"""
from . import ir, te
from .lower import PassContext, Pipeline
from .lower import lower as _lower
from .lower.bounds_check import BoundsError
from .schedule import Schedule, ScheduleError, ScheduleWarning, Stage, Trace, TraceError, create_schedule
from .target import Target


def lower(sch, args, name: str = "main", *, stop_after: str | None = None, ctx: PassContext | None = None,
          **options):
    """The lowered loop IR of `sch` with parameters `args`; print it to read it.

    Options: `stop_after="storage_flatten"` stops after that pass; `ctx=wb.PassContext(...)` or
    keywords (keep_trivial_loops=True, bounds_checks=False, unroll_limit=..., verify=True) set the
    pass context; `pipeline=` runs a backend's pipeline. `func.after("vectorize")` prints the IR
    after one pass."""
    return _lower(sch, args, name, stop_after=stop_after, ctx=ctx, **options)


def build(sch, args, target="llvm", name: str = "main", *, cache=True, **options):
    """Lower and compile `sch` for `target` (a string such as "llvm -mcpu=x86-64-v3" or a Target;
    "llvm" is this host); returns a Kernel called as f(*arrays) (one per arg, in order).

    Lowering options as for `lower`, e.g. bounds_checks=False drops the run-time index checks.
    A structurally equal schedule built before is not lowered or compiled again: `cache` is True
    (the process's compile cache, `wb.runtime.default_cache()`), a `wb.runtime.CompileCache`, or
    None (always build). LLVM compiles the kernel's parallel regions as separate units on up to
    `compile_threads=` threads (default: the process's cores, at most 4)."""
    from .lower.schedule_ops import reject_thread_bindings
    from .runtime import build_schedule
    target = Target.parse(target)
    reject_thread_bindings(sch, str(target))
    return build_schedule(sch, args, target, name, cache=cache, **options)


def load_ipython_extension(ipython):
    """`%load_ext workbench`: registers the %workbench magic (UI packages load only now)."""
    from .ui.magics import load_ipython_extension as _load
    _load(ipython)


__all__ = ["te", "ir", "create_schedule", "lower", "build", "Schedule", "Stage", "ScheduleError",
           "ScheduleWarning", "BoundsError", "PassContext", "Pipeline", "Trace", "TraceError", "Target"]
