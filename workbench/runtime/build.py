"""`build_schedule`: lower + compile a schedule through the compile cache (what `wb.build` calls),
and `build_func` for an already lowered PrimFunc."""
from __future__ import annotations

import time

from ..codegen import build as codegen_build
from ..lower import lower
from ..target import Target
from .cache import CompileCache, default_cache, fingerprint
from .kernel import Kernel


def build_func(func, target=None, *, num_threads: int | None = None, opt: int = 3,
               compile_threads: int | None = None) -> Kernel:
    """Compile a lowered PrimFunc for `target` (a Target, a target string, default this host) and
    wrap it as a callable Kernel. `compile_threads`: see codegen.build."""
    t0 = time.perf_counter()
    module = codegen_build(func, target, opt=opt, compile_threads=compile_threads)
    return Kernel(module, num_threads=num_threads, build_time=time.perf_counter() - t0)


def build_schedule(sch, args, target="llvm", name: str = "main", *, cache=True, opt: int = 3,
                   compile_threads: int | None = None, **options) -> Kernel:
    """Lower `sch` and compile it for `target`; `cache` is True (the process's compile cache), a
    CompileCache, or None/False (always lower and compile). `options` are lowering options
    (wb.lower's keywords, e.g. bounds_checks=False); they are part of the cache key.
    `compile_threads`: how many threads LLVM compiles the kernel's units on (codegen.build)."""
    t0 = time.perf_counter()
    target = Target.parse(target)
    if cache is True:
        cache = default_cache()
    elif cache is False:
        cache = None
    elif cache is not None and not isinstance(cache, CompileCache):
        raise TypeError(f"build: cache must be True, False, None or a CompileCache, got {type(cache).__name__}")
    key = fingerprint(sch, args, target, name,
                      ("opt", opt) + tuple(sorted((k, repr(v)) for k, v in options.items()))) if cache is not None else None
    if key is not None:
        module = cache.get(key)
        if module is not None:
            return Kernel(module, build_time=time.perf_counter() - t0)
    module = codegen_build(lower(sch, list(args), name, target=target, **options), target, opt=opt,
                           compile_threads=compile_threads)
    if key is not None:
        cache.put(key, module)
    return Kernel(module, build_time=time.perf_counter() - t0)
