"""The loop IR: expression and statement nodes (frozen dataclasses), printer, visitors, simplifier."""
from . import dtype
from .expr import (Add, And, Broadcast, BufferLoad, Call, Cast, CmpOp, Const, Div, EQ, Expr, FloorDiv,
                   FloorMod, GE, GT, LE, LT, Max, Min, Mul, NE, Not, Or, Ramp, Reduce, Select, ShiftLeft, ShiftRight, Sub,
                   TensorRead, Var, const, convert, structural_equal)
from .stmt import (Allocate, AssertStmt, Buffer, BufferStore, Evaluate, For, IfThenElse, PrimFunc, SeqStmt, Stmt,
                   seq)
from .visitor import free_vars, map_children, post_order, substitute, walk
