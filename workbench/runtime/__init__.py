"""Runtime: the built `Kernel` (argument checks, ctypes call, run-time check errors) and timing."""
from .kernel import Kernel
from .timing import TimingResult, measure

__all__ = ["Kernel", "TimingResult", "build_func", "measure"]


def build_func(func, target=None, *, num_threads: int | None = None, opt: int = 3) -> Kernel:
    """Compile a lowered PrimFunc for `target` (a Target, a target string, default this host) and
    wrap it as a callable Kernel."""
    import time

    from ..codegen import build
    t0 = time.perf_counter()
    module = build(func, target, opt=opt)
    return Kernel(module, num_threads=num_threads, build_time=time.perf_counter() - t0)
