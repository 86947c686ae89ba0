"""The loop IR: expression and statement nodes (frozen dataclasses), printer, traversal core,
simplifier, verifier and structural equality."""
from . import dtype
from .expr import (Add, And, Broadcast, BufferLoad, Call, Cast, CmpOp, Const, Div, EQ, Expr, FloorDiv,
                   FloorMod, GE, GT, LE, LT, Max, Min, Mul, NE, Not, Or, Ramp, Reduce, Select, ShiftLeft,
                   ShiftRight, Sub, TensorRead, Var, const, convert)
from .stmt import (Allocate, AssertStmt, Buffer, BufferStore, Evaluate, For, ForKind, IfThenElse, PrimFunc,
                   SeqStmt, Stmt, seq)
from .structural import assert_structural_equal, structural_equal, structural_hash
from .verify import IRVerifyError, verify
from .visitor import (LoopRanges, StmtMutator, StmtVisitor, children, contains, find, find_all, fold,
                      free_vars, map_children, post_order, substitute, walk)
