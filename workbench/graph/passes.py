"""Graph passes, each a function Graph -> Graph, and the one list `optimize` runs in order.

    PASSES = [fold_constants, fold_batch_norm, fold_constants, alter_layout, winograd_convs, fuse_ops,
              dead_node_elimination]

Fusion follows TVM's rules (relay FuseOps): elementwise/broadcast ops fuse into the epilogue of a
preceding conv2d/dense/pool ("out-elementwise-fusable"), and elementwise/broadcast/injective ops
fuse into a preceding elementwise/injective group, as long as the producer's value is read by that
one consumer only (so no intermediate is recomputed) and fusing creates no cycle between groups.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from kernels import conv2d_nchwc, conv2d_winograd

from .ir import Graph, Node
from .ops import Pattern, block_of
from .ops import get as get_op


# -- dead nodes ------------------------------------------------------------------------------------
def dead_node_elimination(g: Graph, target=None) -> Graph:
    """Drop nodes no output depends on (graph inputs always stay)."""
    live, stack = set(), list(g.outputs)
    while stack:
        n = stack.pop()
        if n in live:
            continue
        live.add(n)
        stack.extend(g[n].inputs)
    return g.replace_nodes([n for n in g.nodes if n.name in live or n.op == "input"])


# -- constant folding ------------------------------------------------------------------------------
def fold_constants(g: Graph, target=None) -> Graph:
    """Evaluate, at compile time, every operator whose inputs are all constants (its numpy
    reference is exact), replacing it by a constant."""
    params = dict(g.params)
    nodes = []
    consts = {n.name for n in g.nodes if n.op == "const"}
    for n in g.nodes:
        if n.op not in ("const", "input") and n.inputs and all(i in consts for i in n.inputs) \
                and n.name not in g.outputs:
            value = get_op(n.op).reference([params[i] for i in n.inputs], n)
            params[n.name] = np.ascontiguousarray(value, dtype=n.dtype)
            nodes.append(Node(n.name, "const", (), (), n.shape, n.dtype, n.layout))
            consts.add(n.name)
        else:
            nodes.append(n)
    return dead_node_elimination(g.replace_nodes(nodes, params=params))


# -- batch-norm folding ----------------------------------------------------------------------------
_CONVS = ("conv2d", "depthwise_conv2d", "conv2d_transpose")


def fold_batch_norm(g: Graph, target=None) -> Graph:
    """conv2d(x, W) [+ bias b] -> batch_norm(gamma, beta, mean, var)  ==>  conv2d(x, W * s) + b'
    with s = gamma / sqrt(var + eps), b' = (b - mean) * s + beta, when the weights and the
    batch-norm statistics are constants and the conv's value has no other reader."""
    params = dict(g.params)
    consumers = g.consumers()
    nodes = {n.name: n for n in g.nodes}
    order = [n.name for n in g.nodes]

    def single_reader(name):
        return len(consumers[name]) == 1

    for name in list(order):
        bn = nodes.get(name)
        if bn is None or bn.op != "batch_norm" or not all(i in params for i in bn.inputs[1:]):
            continue
        src = nodes[bn.inputs[0]]
        bias = None
        if src.op == "bias_add" and src.inputs[1] in params and single_reader(src.name):
            bias, src = params[src.inputs[1]], nodes[src.inputs[0]]
        if src.op not in _CONVS or src.inputs[1] not in params or not single_reader(src.name):
            continue
        gamma, beta, mean, var = (params[i].astype(np.float64) for i in bn.inputs[1:])
        scale = gamma / np.sqrt(var + bn.attr("epsilon"))
        w = params[src.inputs[1]].astype(np.float64)
        if src.op == "depthwise_conv2d":          # (C, M, KH, KW): output channel c * M + m
            w_new = w * scale.reshape(w.shape[0], w.shape[1], 1, 1)
        elif src.op == "conv2d_transpose":        # (C, F, KH, KW): output channel f
            w_new = w * scale.reshape(1, -1, 1, 1)
        else:                                     # (F, C, KH, KW)
            w_new = w * scale.reshape(-1, 1, 1, 1)
        b = np.zeros_like(scale) if bias is None else bias.astype(np.float64)
        b_new = (b - mean) * scale + beta
        wname, bname = f"{src.name}_w_bn", f"{src.name}_b_bn"
        params[wname] = w_new.astype(np.float32)
        params[bname] = b_new.astype(np.float32)
        nodes[wname] = Node(wname, "const", (), (), w.shape, "float32")
        nodes[bname] = Node(bname, "const", (), (), b.shape, "float32")
        at = order.index(src.name)
        order[at:at] = [wname, bname]          # defined before the conv that reads them
        nodes[src.name] = replace(src, inputs=(src.inputs[0], wname))
        nodes[bn.name] = Node(bn.name, "bias_add", (src.name, bname), (("axis", 1),), bn.shape,
                              bn.dtype, bn.layout)
        consumers = Graph(tuple(_ordered(nodes, order)), g.inputs, g.outputs, params).consumers()
    return dead_node_elimination(g.replace_nodes(_ordered(nodes, order), params=params))


def _ordered(nodes: dict, order: list) -> list:
    return [nodes[n] for n in order if n in nodes]


# -- layout transformation (CPU: NCHW -> NCHW[x]c) -------------------------------------------------
def conv_block(channels: int) -> int:
    """The channel block of a blocked layout: 16 floats fill one AVX-512 register; smaller powers
    of two when the channel count is not a multiple of 16."""
    for b in (16, 8, 4, 2):
        if channels % b == 0:
            return b
    return 1


# ops that compute the same thing in NCHW[x]c as in NCHW when the channel axis is blocked
_LAYOUT_AGNOSTIC = ("relu", "clip", "sigmoid", "tanh")


def alter_layout(g: Graph, target=None) -> Graph:
    """Run every groups=1 conv2d in NCHW[x]c: the activations stay blocked between convolutions,
    and layout_transform nodes are placed only where a non-blocked operator needs NCHW. Elementwise
    ops, bias_add and prelu (per-channel constants re-blocked at compile time) and same-layout
    residual adds carry the blocked layout through; back-to-back transforms that cancel are
    removed."""
    params = dict(g.params)
    out_nodes: list = []
    layout_of: dict = {}                 # node name -> the layout its value is in
    cache: dict = {}                     # (name, target layout) -> transformed node name

    def as_layout(name, layout):
        cur = layout_of.get(name, g[name].layout)
        if cur == layout:
            return name
        if block_of(cur) and block_of(layout):          # re-blocking goes through NCHW
            return as_layout(as_layout(name, "NCHW"), layout)
        key = (name, layout)
        if key not in cache:
            src = out_nodes_by_name[name]
            if layout == "NCHW" and block_of(cur):
                shape = (src.shape[0], src.shape[1] * src.shape[4], src.shape[2], src.shape[3])
            elif cur == "NCHW" and block_of(layout):
                b = block_of(layout)
                shape = (src.shape[0], src.shape[1] // b, src.shape[2], src.shape[3], b)
            else:
                raise AssertionError(f"no transform {cur} -> {layout}")
            t = Node(f"{name}_to_{layout}", "layout_transform", (name,),
                     (("dst", layout), ("src", cur)), shape, src.dtype, layout)
            # a transform of a transform back to the original layout cancels
            if src.op == "layout_transform" and src.attr("src") == layout:
                cache[key] = src.inputs[0]
            else:
                out_nodes.append(t)
                out_nodes_by_name[t.name] = t
                layout_of[t.name] = layout
                cache[key] = t.name
        return cache[key]

    out_nodes_by_name: dict = {}

    def emit(n: Node, layout: str | None = None):
        out_nodes.append(n)
        out_nodes_by_name[n.name] = n
        layout_of[n.name] = layout if layout is not None else n.layout

    for n in g.nodes:
        if n.op == "conv2d" and n.layout == "NCHW" and n.inputs[1] in params:
            w = params[n.inputs[1]]
            cin, cout = w.shape[1], w.shape[0]
            bi, bo = conv_block(cin), conv_block(cout)
            if bo < 4:       # too few output channels (e.g. an RGB output) to fill a vector
                emit(replace(n, inputs=(as_layout(n.inputs[0], "NCHW"), n.inputs[1])))
                continue
            data = as_layout(n.inputs[0], f"NCHW{bi}c" if bi > 1 else "NCHW")
            # the kernel is packed once, at compile time: OIHW -> (O/bo, I/bi, KH, KW, bi, bo)
            wname = f"{n.inputs[1]}_OIHW{bi}i{bo}o" if bi > 1 else f"{n.inputs[1]}_OIHW{bo}o"
            if wname not in out_nodes_by_name:
                params[wname] = conv2d_nchwc.pack_kernel(w, bo, bi if bi > 1 else 0)
                emit(Node(wname, "const", (), (), params[wname].shape, "float32"), "")
            N, _, OH, OW = n.shape
            emit(Node(n.name, "conv2d_nchwc", (data, wname), n.with_attrs(
                in_block=bi if bi > 1 else 0).attrs, (N, cout // bo, OH, OW, bo), n.dtype,
                f"NCHW{bo}c"))
            continue
        if n.op == "depthwise_conv2d" and n.layout == "NCHW" and n.inputs[1] in params \
                and params[n.inputs[1]].shape[1] == 1:
            C = n.shape[1]
            cur0 = layout_of.get(n.inputs[0], g[n.inputs[0]].layout)
            b = block_of(cur0) if block_of(cur0) and C % block_of(cur0) == 0 else conv_block(C)
            if b >= 4:
                data = as_layout(n.inputs[0], f"NCHW{b}c")
                wname = f"{n.inputs[1]}_{b}c"
                if wname not in out_nodes_by_name:
                    params[wname] = conv2d_nchwc.pack_depthwise_kernel(params[n.inputs[1]], b)
                    emit(Node(wname, "const", (), (), params[wname].shape, "float32"), "")
                N, _, OH, OW = n.shape
                emit(Node(n.name, "depthwise_conv2d_nchwc", (data, wname), n.attrs,
                          (N, C // b, OH, OW, b), n.dtype, f"NCHW{b}c"))
                continue
        cur = [layout_of.get(i, g[i].layout) for i in n.inputs]
        blocked = [c for c in cur if block_of(c)]
        if blocked and n.op in _LAYOUT_AGNOSTIC:
            src = out_nodes_by_name[n.inputs[0]]
            emit(replace(n, shape=src.shape, layout=cur[0]), cur[0])
        elif blocked and n.op in ("bias_add", "prelu") and block_of(cur[0]) \
                and n.inputs[1] in params:
            # a per-channel constant (bias, PReLU slope) re-blocked at compile time
            b = block_of(cur[0])
            bias = params[n.inputs[1]]
            bname = f"{n.inputs[1]}_{cur[0]}"
            params[bname] = np.ascontiguousarray(bias.reshape(-1, b))
            if bname not in out_nodes_by_name:
                emit(Node(bname, "const", (), (), params[bname].shape, "float32"), "")
            src = out_nodes_by_name[n.inputs[0]]
            emit(Node(n.name, f"{n.op}_nchwc", (n.inputs[0], bname), (), src.shape, n.dtype,
                      cur[0]), cur[0])
        elif blocked and n.op in ("max_pool2d", "avg_pool2d"):
            src = out_nodes_by_name[n.inputs[0]]
            N, _, OH, OW = n.shape
            emit(replace(n, op=f"{n.op}_nchwc", shape=(N, src.shape[1], OH, OW, src.shape[4]),
                         layout=cur[0]), cur[0])
        elif blocked and n.op in ("add", "mul") and g[n.inputs[0]].shape == g[n.inputs[1]].shape \
                and len(set(blocked)) == 1:
            # a residual add: bring the other operand into the blocked layout too
            lay = blocked[0]
            ins = tuple(as_layout(i, lay) for i in n.inputs)
            emit(replace(n, inputs=ins, shape=out_nodes_by_name[ins[0]].shape, layout=lay), lay)
        else:
            ins = tuple(as_layout(i, g[i].layout) if block_of(c) else i for i, c in zip(n.inputs, cur))
            emit(replace(n, inputs=ins))
    outs = tuple(as_layout(o, g[o].layout) for o in g.outputs)
    # the model's outputs keep their names: the blocked value is renamed, the transform takes it
    mapping = {}
    for o, new in zip(g.outputs, outs):
        if new != o:
            mapping[o], mapping[new] = f"{o}_{layout_of[o]}", o
    out_nodes = [replace(n, name=mapping.get(n.name, n.name),
                         inputs=tuple(mapping.get(i, i) for i in n.inputs)) for n in out_nodes]
    return dead_node_elimination(g.replace_nodes(out_nodes, outputs=g.outputs, params=params))


# -- Winograd ---------------------------------------------------------------------------------------
def winograd_convs(g: Graph, target=None) -> Graph:
    """Every blocked 3x3 stride-1 pad-1 conv2d_nchwc with an even output size -> Winograd
    F(2x2, 3x3) (`conv2d_winograd_nchwc`), its kernel transformed (G g G^T) at compile time:
    2.25x fewer multiply-adds for the same result up to rounding (ResNet's 3x3 convolutions
    other than the stride-2 ones and the odd 7x7 stage)."""
    params = dict(g.params)
    nodes = []
    for n in g.nodes:
        w = params.get(n.inputs[1]) if n.op == "conv2d_nchwc" and len(n.inputs) > 1 else None
        if w is None or w.ndim != 6 or not conv2d_winograd.applicable(
                n.shape[:4], w.shape[2:4], n.attr("strides"), n.attr("padding"),
                n.attr("dilation")):
            nodes.append(n)
            continue
        ib, ob = w.shape[4], w.shape[5]
        wname = f"{n.inputs[1]}_winograd"
        if wname not in params:
            params[wname] = conv2d_winograd.transform_kernel(conv2d_nchwc.unpack_kernel(w), ib, ob)
            nodes.append(Node(wname, "const", (), (), params[wname].shape, "float32", ""))
        nodes.append(replace(n, op="conv2d_winograd_nchwc", inputs=(n.inputs[0], wname),
                             attrs=()))
    return dead_node_elimination(g.replace_nodes(nodes, params=params))


# -- fusion ----------------------------------------------------------------------------------------
def pattern_of(n: Node) -> Pattern:
    return get_op(n.op).pattern


def fuse_ops(g: Graph, target=None, fixed=()) -> Graph:
    """Assign every compute node a fused group (Node.group), following TVM's rules. `fixed`: lists
    of node names that form a group of their own that nothing else joins (e.g. VTA offloads)."""
    fixed_of = {n: k for k, names in enumerate(fixed) for n in names}
    fixed_gid: dict = {}
    consumers = g.consumers()
    position = {n.name: k for k, n in enumerate(g.nodes)}
    ancestors: dict = {}
    for n in g.nodes:
        acc = set(n.inputs)
        for i in n.inputs:
            acc |= ancestors[i]
        ancestors[n.name] = acc
    group_of: dict = {}
    members: dict = {}                  # gid -> set of node names
    master: dict = {}                   # gid -> the group's strongest pattern
    tail: dict = {}                     # gid -> the node whose value leaves the group
    for n in g.ops():
        p = pattern_of(n)
        gid = None
        if n.name in fixed_of:
            k = fixed_of[n.name]
            if k not in fixed_gid:
                fixed_gid[k] = len(members)
                members[fixed_gid[k]] = set()
            gid = fixed_gid[k]
            master[gid] = Pattern.OPAQUE                 # nothing joins an offloaded group
        elif p <= Pattern.INJECTIVE:
            # of the producers it could join, the one computed last (TVM fuses the residual add
            # into the conv that produces its later operand)
            for c in sorted(n.inputs, key=lambda i: -position[i]):
                if c not in group_of or consumers[c] != [n.name]:
                    continue
                cand = group_of[c]
                if tail[cand] != c:
                    continue
                ok = (master[cand] == Pattern.OUT_ELEWISE_FUSABLE and p <= Pattern.BROADCAST) or \
                     (master[cand] <= Pattern.INJECTIVE)
                # joining must not make another input of n depend on the group (a cycle)
                others = [o for o in n.inputs if o != c]
                if ok and not any(members[cand] & (ancestors[o] | {o}) for o in others):
                    gid = cand
                    break
        if gid is None:
            gid = len(members)
            members[gid], master[gid] = set(), p
        members[gid].add(n.name)
        if master[gid] not in (Pattern.OUT_ELEWISE_FUSABLE, Pattern.OPAQUE):
            master[gid] = max(master[gid], p)
        tail[gid] = n.name
        group_of[n.name] = gid
    # number groups in execution order: by the position of the node whose value leaves them
    # (every value read outside a group is its tail, so this order respects all dependencies)
    order = {gid: k for k, gid in enumerate(sorted(tail, key=lambda k: position[tail[k]]))}
    return g.replace_nodes([replace(n, group=order.get(group_of.get(n.name))) for n in g.nodes])


def unfuse(g: Graph) -> Graph:
    """Every compute node in its own group (the baseline fusion is measured against)."""
    gid = iter(range(len(g.nodes)))
    return g.replace_nodes([replace(n, group=None if n.op in ("input", "const") else next(gid))
                            for n in g.nodes])


PASSES = [
    ("fold_constants", fold_constants),
    ("fold_batch_norm", fold_batch_norm),
    ("fold_constants", fold_constants),
    ("alter_layout", alter_layout),
    ("winograd_convs", winograd_convs),
    ("fuse_ops", fuse_ops),
    ("dead_node_elimination", dead_node_elimination),
]


def optimize(g: Graph, target=None, *, layout: bool = True, fuse: bool = True,
             winograd: bool = True, passes=None, verbose: bool = False) -> Graph:
    """Run the graph passes in order (`passes` defaults to PASSES). layout=False skips
    alter_layout (and winograd_convs, which needs its blocked layout); winograd=False keeps the
    direct convolutions; fuse=False puts every op in its own group."""
    for name, fn in passes or PASSES:
        if (name in ("alter_layout", "winograd_convs") and not layout) or \
                (name == "fuse_ops" and not fuse) or (name == "winograd_convs" and not winograd):
            continue
        g = fn(g, target)
        if verbose:
            print(f"-- after {name}:\n{g}")
    if not fuse:
        g = unfuse(g)
    return g
