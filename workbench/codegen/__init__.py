"""LLVM code generation: lowered PrimFunc -> LLVM IR text (emit: statements; expr_emit: expressions;
vecmath: vector exp/log/tanh; parallel: outlined loops) -> machine code (engine).

`build(func, target) -> CompiledModule` (module.py) is what `wb.build` calls after lowering; the
runtime wraps the module in a callable `runtime.Kernel`. This package never imports the runtime.
"""
from __future__ import annotations

from .builder import CodegenError
from .emit import emit_module
from .module import CompiledModule, Param, build

__all__ = ["CodegenError", "CompiledModule", "Param", "build", "emit_module"]
