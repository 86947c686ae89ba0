"""The lowering pipeline, in one place: every pass is `Stmt -> Stmt`, run in this order, and each
one's output is kept in `PrimFunc.history` so `func.after("vectorize")` prints it."""
from __future__ import annotations

from ..ir.simplify import simplify_stmt
from .flatten import storage_flatten
from .parallel import serialize_nested_parallel
from .partition import loop_partition
from .unroll import unroll
from .vectorize import vectorize

PASSES = (
    ("simplify", simplify_stmt),              # fold constants, canonicalize indices, drop unit loops
    ("loop_partition", loop_partition),       # split tails off so main loops carry no guards
    ("storage_flatten", storage_flatten),     # multi-dimensional indices -> flat row-major index
    ("nested_parallel", serialize_nested_parallel),  # a parallel loop inside one runs serially
    ("unroll", unroll),                       # `unroll` loops and auto_unroll_max_step pragmas
    ("vectorize", vectorize),                 # `vectorize` loops -> Ramp/Broadcast vector statements
    ("final_simplify", simplify_stmt),        # clean up what unrolling and vectorizing exposed
)
