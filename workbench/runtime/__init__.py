"""Runtime: the built `Kernel` (argument checks, ctypes call, run-time check errors), timing, and
building through the compile cache."""
from .build import build_func, build_schedule
from .cache import CompileCache, default_cache
from .kernel import BoundCall, Kernel
from .timing import TimingResult, measure

__all__ = ["BoundCall", "CompileCache", "Kernel", "TimingResult", "build_func", "build_schedule", "default_cache", "measure"]
