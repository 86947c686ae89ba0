"""LLVM code generation: lowered PrimFunc -> LLVM IR text (emit, parallel) -> JIT (engine).

`build_func(func)` is what `wb.build` calls after lowering.
"""
from __future__ import annotations

from .emit import CodegenError, emit_module

__all__ = ["CodegenError", "build_func", "emit_module"]


def build_func(func, target: str = "llvm", **kwargs):
    """Compile a lowered PrimFunc for the host CPU -> runtime.Kernel."""
    if target != "llvm":
        raise ValueError(f"unsupported target {target!r}; the only code generator target is 'llvm' "
                         "(VTA programs are built with accel.vta.build)")
    from ..runtime.kernel import Kernel
    return Kernel(func, **kwargs)
