"""Schedule Workbench: tensor expressions, schedules, lowering and LLVM code generation.

    import workbench as wb
    from workbench import te
    s = wb.create_schedule(C); print(wb.lower(s, [A, B, C])); f = wb.build(s, [A, B, C])
"""
from . import te
from .lower import lower as _lower
from .schedule import Schedule, ScheduleError, Stage, Trace, create_schedule
from .target import Target


def lower(sch, args, name: str = "main"):
    """The lowered loop IR of `sch` with parameters `args`; print it to read it."""
    return _lower(sch, args, name)


def build(sch, args, target="llvm", name: str = "main", *, cache=True):
    """Lower and compile `sch` for `target` (a string such as "llvm -mcpu=x86-64-v3" or a Target;
    "llvm" is this host); returns a Kernel called as f(*arrays) (one per arg, in order).

    A structurally equal schedule built before is not lowered or compiled again: `cache` is True
    (the process's compile cache, `wb.runtime.default_cache()`), a `wb.runtime.CompileCache`, or
    None (always build)."""
    from .lower.schedule_ops import reject_thread_bindings
    from .runtime import build_schedule
    target = Target.parse(target)
    reject_thread_bindings(sch, str(target))
    return build_schedule(sch, args, target, name, cache=cache)


__all__ = ["te", "create_schedule", "lower", "build", "Schedule", "Stage", "ScheduleError", "Trace",
           "Target"]
