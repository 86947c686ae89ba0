"""GraphBuilder: create a Graph node by node with shapes inferred by the operators' rules."""
from __future__ import annotations

import re

import numpy as np

from .ir import Graph, GraphError, Node, make_attrs
from .ops import get as get_op


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", name).strip("_") or "t"


class GraphBuilder:
    """Builds a Graph node by node, inferring shapes as it goes (the importers use it; tests and
    users can build graphs by hand):

        b = GraphBuilder()
        x = b.input("input", (1, 3, 8, 8))
        w = b.const(np.ones((4, 3, 3, 3), "float32"), "w")
        y = b.add("conv2d", [x, w], dict(strides=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1)))
        g = b.graph([b.add("relu", [y])])
    """

    def __init__(self, output_names=()):
        self.nodes: list = []
        self.params: dict = {}
        self.names: dict = {}           # onnx tensor name -> graph node name
        self.taken: set = set()
        self.counts: dict = {}
        self.output_names = set(output_names)
        self.inputs: list = []

    def fresh(self, base: str) -> str:
        base = _safe(base)
        name = base
        while name in self.taken:
            self.counts[base] = self.counts.get(base, 0) + 1
            name = f"{base}_{self.counts[base]}"
        self.taken.add(name)
        return name

    def const(self, value: np.ndarray, base: str) -> str:
        value = np.ascontiguousarray(value)
        name = self.fresh(base)
        self.params[name] = value
        self.nodes.append(Node(name, "const", (), (), tuple(value.shape), str(value.dtype)))
        return name

    def shape(self, name: str) -> tuple:
        return self._node(name).shape

    def _node(self, name):
        for n in reversed(self.nodes):
            if n.name == name:
                return n
        raise KeyError(name)

    def value(self, name: str):
        """The constant value behind a graph node name, or None."""
        return self.params.get(name)

    def add(self, op: str, inputs, attrs: dict | None = None, onnx_out: str | None = None,
            layout: str = "") -> str:
        name = self.fresh(onnx_out if onnx_out in self.output_names else op)
        node = Node(name, op, tuple(inputs), make_attrs(attrs or {}))
        opdef = get_op(op)
        shapes = [self.shape(i) for i in inputs]
        try:
            shape = tuple(int(d) for d in opdef.infer(node, shapes))
        except (ValueError, TypeError) as e:
            raise GraphError(f"node {name!r} ({op}): {e}") from None
        dtype = self._node(inputs[0]).dtype
        if len(shape) == 4 and not layout:
            layout = "NCHW"
        self.nodes.append(Node(name, op, tuple(inputs), node.attrs, shape, dtype, layout))
        return name


    def input(self, name: str, shape, dtype: str = "float32") -> str:
        name = self.fresh(name)
        self.nodes.append(Node(name, "input", (), (), tuple(shape), dtype,
                               "NCHW" if len(shape) == 4 else ""))
        self.inputs.append(name)
        return name

    def graph(self, outputs) -> Graph:
        return Graph(tuple(self.nodes), tuple(self.inputs), tuple(outputs), dict(self.params))
