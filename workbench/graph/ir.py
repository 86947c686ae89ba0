"""The graph IR: a dataflow graph of operator nodes, each a frozen record.

    Node(name, op, inputs, attrs, shape, dtype, layout, group)
    Graph(nodes, inputs, outputs, params)

Nodes are kept in topological order (every input is defined by an earlier node). Weights live in
`Graph.params` (name -> numpy array) and appear as nodes of op "const"; graph inputs are nodes of op
"input". Passes never mutate: they return a new Graph (`Graph.replace_nodes`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


class GraphError(ValueError):
    """A malformed graph or an unsupported model (names the node, op and attribute)."""


def freeze(value):
    """Lists -> tuples (recursively), so attrs are hashable and print the same way everywhere."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple = ()             # names of the producing nodes, in operator order
    attrs: tuple = ()              # sorted (key, value) pairs; read them with .attr(key)
    shape: tuple = ()
    dtype: str = "float32"
    layout: str = ""               # e.g. "NCHW", "NCHW16c", "OIHW"; "" when it has no meaning
    group: int | None = None       # the fused group (set by the fusion pass)

    def attr(self, key: str, default=None):
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    @property
    def attr_dict(self) -> dict:
        return dict(self.attrs)

    def with_attrs(self, **updates) -> "Node":
        d = self.attr_dict
        d.update(updates)
        return replace(self, attrs=make_attrs(d))

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def make_attrs(d: dict) -> tuple:
    return tuple(sorted((k, freeze(v)) for k, v in d.items() if v is not None))


@dataclass(frozen=True)
class Graph:
    nodes: tuple                          # of Node, topologically sorted
    inputs: tuple                         # names of "input" nodes
    outputs: tuple                        # names of the nodes whose values the model returns
    params: dict = field(default_factory=dict, compare=False, repr=False)   # const name -> np.ndarray

    def __post_init__(self):
        seen = set()
        for n in self.nodes:
            if n.name in seen:
                raise GraphError(f"node {n.name!r} is defined twice")
            for i in n.inputs:
                if i not in seen:
                    raise GraphError(f"node {n.name!r} ({n.op}) uses {i!r} before it is defined")
            if n.op == "const" and n.name not in self.params:
                raise GraphError(f"const node {n.name!r} has no value in params")
            seen.add(n.name)
        for o in (*self.inputs, *self.outputs):
            if o not in seen:
                raise GraphError(f"graph input/output {o!r} is not a node")

    # -- queries ----------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Node:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}") from None

    @property
    def _index(self) -> dict:
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {n.name: n for n in self.nodes}
            object.__setattr__(self, "_idx", idx)
        return idx

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    def consumers(self) -> dict:
        """name -> list of names of the nodes that read it (graph outputs count as a reader "")."""
        out = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n.name)
        for o in self.outputs:
            out[o].append("")
        return out

    def ops(self) -> list:
        """The compute nodes (neither inputs nor constants)."""
        return [n for n in self.nodes if n.op not in ("input", "const")]

    def groups(self) -> dict:
        """group id -> list of node names, in topological order (after fusion)."""
        out: dict = {}
        for n in self.ops():
            out.setdefault(n.group, []).append(n.name)
        return dict(sorted(out.items(), key=lambda kv: -1 if kv[0] is None else kv[0]))

    # -- rebuilding -------------------------------------------------------------------------------
    def replace_nodes(self, nodes, outputs=None, params=None) -> "Graph":
        """A new graph with these nodes (re-sorted topologically) and params restricted to the
        constants still used."""
        nodes = topo_sort(nodes)
        params = self.params if params is None else params
        names = {n.name for n in nodes}
        return Graph(tuple(nodes), tuple(i for i in self.inputs if i in names),
                     tuple(outputs if outputs is not None else self.outputs),
                     {k: v for k, v in params.items() if k in names})

    # -- printing ---------------------------------------------------------------------------------
    def __str__(self) -> str:
        return format_graph(self)

    def summary(self) -> str:
        ops = self.ops()
        counts: dict = {}
        for n in ops:
            counts[n.op] = counts.get(n.op, 0) + 1
        weights = sum(v.nbytes for v in self.params.values())
        groups = len({n.group for n in ops if n.group is not None})
        return (f"{len(ops)} ops ({', '.join(f'{k} x{v}' for k, v in counts.items())}); "
                f"{groups} fused groups; weights {weights / 2**20:.2f} MiB")


def topo_sort(nodes) -> list:
    """Stable topological order: a node stays where it was unless one of its inputs comes later."""
    by_name = {n.name: n for n in nodes}
    order, state = [], {}

    for root in nodes:
        if root.name in state:
            continue
        stack = [(root, iter(root.inputs))]
        state[root.name] = 1
        while stack:
            node, it = stack[-1]
            for i in it:
                if i not in by_name:
                    raise GraphError(f"node {node.name!r} ({node.op}) reads {i!r}, which no node "
                                     "defines")
                if state.get(i) == 1:
                    raise GraphError(f"cycle through {i!r} and {node.name!r}")
                if i not in state:
                    state[i] = 1
                    stack.append((by_name[i], iter(by_name[i].inputs)))
                    break
            else:
                stack.pop()
                state[node.name] = 2
                order.append(node)
    return order


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return "(" + ",".join(_fmt_value(x) for x in v) + ")"
    return str(v)


def format_node(n: Node) -> str:
    shape = "x".join(str(d) for d in n.shape)
    attrs = " ".join(f"{k}={_fmt_value(v)}" for k, v in n.attrs)
    group = f"  [g{n.group}]" if n.group is not None else ""
    layout = f" {n.layout}" if n.layout else ""
    args = ", ".join(n.inputs)
    return (f"%{n.name}: {n.dtype}[{shape}]{layout} = {n.op}({args})"
            f"{' ' + attrs if attrs else ''}{group}")


def format_graph(g: Graph) -> str:
    lines = [f"graph({', '.join(g.inputs)}) -> ({', '.join(g.outputs)})"]
    consts = [n for n in g.nodes if n.op == "const"]
    if consts:
        total = sum(g.params[n.name].nbytes for n in consts)
        size = f"{total} B" if total < 1024 else f"{total / 1024:.1f} KiB"
        lines.append(f"  # {len(consts)} constants, {size}")
    for n in g.nodes:
        if n.op == "const":
            continue
        lines.append("  " + format_node(n))
    return "\n".join(lines)
