"""The reference interpreter: runs a graph node by node with the operators' numpy references.
It is the oracle the compiled executor is tested against (any pass, any fusion, any layout must
give what `evaluate` gives on the unoptimized graph)."""
from __future__ import annotations

import numpy as np

from .ir import Graph
from .ops import get as get_op


def evaluate(g: Graph, inputs: dict, *, keep_all: bool = False) -> dict:
    """{output name: array} (or every value with keep_all=True)."""
    vals: dict = {}
    for n in g.nodes:
        if n.op == "input":
            vals[n.name] = np.asarray(inputs[n.name], dtype=n.dtype)
        elif n.op == "const":
            vals[n.name] = g.params[n.name]
        else:
            out = get_op(n.op).reference([vals[i] for i in n.inputs], n)
            vals[n.name] = np.asarray(out, dtype=n.dtype).reshape(n.shape)
    return vals if keep_all else {o: vals[o] for o in g.outputs}
