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


def build(sch, args, target="llvm", name: str = "main"):
    """Lower and compile `sch` for `target` (a string such as "llvm -mcpu=x86-64-v3" or a Target;
    "llvm" is this host); returns a Kernel called as f(*arrays) (one per arg, in order)."""
    from .lower.schedule_ops import reject_thread_bindings
    from .runtime import build_func
    target = Target.parse(target)
    reject_thread_bindings(sch, str(target))
    return build_func(_lower(sch, args, name), target)


def load_ipython_extension(ipython):
    """`%load_ext workbench`: registers the %workbench magic (UI packages load only now)."""
    from .ui.magics import load_ipython_extension as _load
    _load(ipython)


__all__ = ["te", "create_schedule", "lower", "build", "Schedule", "Stage", "ScheduleError", "Trace",
           "Target"]
