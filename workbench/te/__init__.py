"""Tensor expressions: describe what to compute (`placeholder`, `compute`, `reduce_axis`, reducers)."""
from ..ir.expr import Expr, Var
from .api import (abs, all, any, compute, const, exp, if_then_else, log, max, min, placeholder,
                  reduce_axis, sigmoid, sqrt, sum, tanh, thread_axis)
from .intrin import TensorIntrin, decl_tensor_intrin
from .tensor import ComputeOp, IterVar, Operation, PlaceholderOp, Tensor

__all__ = ["Expr", "Var", "IterVar", "Tensor", "Operation", "ComputeOp", "PlaceholderOp", "abs", "all",
           "any", "compute", "const", "exp", "if_then_else", "log", "max", "min", "placeholder",
           "reduce_axis", "decl_tensor_intrin", "TensorIntrin", "sigmoid", "sqrt", "sum", "tanh", "thread_axis"]
