"""`build(func, target) -> CompiledModule`: a lowered PrimFunc as machine code for one target.

The module is what the runtime calls: it knows the entry point's address, the parameter signature
(name, dtype, shape, written or not), the messages of the run-time checks the code can fail, and
whether the code launches libgomp threads. It never calls the code itself: `runtime.Kernel` checks
arguments, calls and times it.

Calling convention of the entry function:
    i32 @<name>(ptr noalias %a0, ..., ptr noalias %a{n-1}, i32 %nthreads)
returns 0, or k >= 1 when the k-th run-time check (`AssertStmt`, see `messages[k - 1]`) failed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..ir import stmt as S
from ..ir.visitor import walk
from ..target import Target
from . import engine
from .builder import CodegenError
from .emit import emit_functions


@dataclass(frozen=True)
class Param:
    """One argument of the compiled function: a numpy dtype, a shape, and whether it is written."""
    name: str
    dtype: np.dtype
    shape: tuple
    output: bool

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def stored_buffers(body) -> set:
    """Buffers that `body` writes (BufferStore targets)."""
    out = set()

    def visit(n):
        if type(n) is S.BufferStore:
            out.add(n.buffer)
    walk(body, visit)
    return out


class CompiledModule:
    """Machine code of one lowered function for one target. Attributes: `func` (the PrimFunc),
    `target`, `entry`, `address`, `params` (Param per argument), `messages` (run-time check
    messages, status k -> messages[k-1]), `uses_gomp`, `parallel_runtime`, `unoptimized_ir`,
    `llvm_ir` (optimized), `asm` (on first access), `timings` (seconds per build phase)."""

    def __init__(self, func: S.PrimFunc, target: Target, *, opt: int = 3, compile_threads: int | None = None):
        t0 = time.perf_counter()
        self.func = func
        self.target = target
        gomp = engine.gomp_library()
        self.parallel_runtime = "libgomp" if gomp else "serial (libgomp not found)"
        triple, layout = engine.triple_and_layout(target)
        mod = emit_functions(func, target_attrs=engine.target_attrs(target), triple=triple,
                             datalayout=layout, parallel_runtime=gomp is not None,
                             vector_bits=target.vector_bits)
        threads = engine.default_compile_threads() if compile_threads is None else max(1, int(compile_threads))
        units = mod.unit_texts(threads)
        t1 = time.perf_counter()
        self.unoptimized_ir = text = mod.text()
        self.entry = entry = mod.name
        self.messages = tuple(mod.messages)
        self.uses_gomp = "@GOMP_parallel" in text
        self._lib = engine.CodeLibrary(entry, target)
        for unit in units:
            self._lib.add_ir(unit)
        try:
            self._lib.finalize([entry], opt=opt, threads=threads)
        except RuntimeError as e:
            raise CodegenError(f"LLVM rejected the generated code for {func.name!r}: {e}") from e
        self.address = self._lib.address(entry)
        outs = stored_buffers(func.body)
        self.params = tuple(Param(b.name, np.dtype(b.dtype), tuple(int(getattr(x, "value", x)) for x in b.shape),
                                  b in outs) for b in func.params)
        self.timings = {"emit": t1 - t0, **self._lib.timings}

    @property
    def name(self) -> str:
        return self.func.name

    @property
    def llvm_ir(self) -> str:
        return self._lib.llvm_ir

    @property
    def asm(self) -> str:
        return self._lib.asm

    def __repr__(self):
        return f"<CompiledModule {self.name} for {self.target}>"


def build(func: S.PrimFunc, target: "Target | str | None" = None, *, opt: int = 3,
          compile_threads: int | None = None) -> CompiledModule:
    """Compile a lowered PrimFunc for `target` (default: this host). Its parallel regions compile
    as separate units on up to `compile_threads` threads (default: this process's cores, at most
    4; 1 where processes already build side by side, as the tuner's do)."""
    target = Target.host() if target is None else Target.parse(target)
    if target.kind != "llvm":
        raise CodegenError(f"the LLVM code generator cannot build for target kind {target.kind!r}")
    return CompiledModule(func, target, opt=opt, compile_threads=compile_threads)
