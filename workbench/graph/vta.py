"""Graph execution with VTA: int8 quantization (symmetric, per-tensor, power-of-two scales from
calibration, as VTA's flow does), the convolutions VTA can run offloaded to VTA programs (run on
the simulator), the rest compiled for the CPU.

    mod = graph.build(g, target=vta.Env.default(), calibration=[{"input": x0}, ...])
    out = mod.run({"input": x})
    print(mod.profile())                  # per layer: simulated VTA cycles, CPU time
    ref = mod.reference({"input": x})     # the numpy model of the same quantized graph
    print(mod.graph)                      # the offloaded graph: vta_conv2d in NCHW1n16c, ...

The graph passes (VTA_PASSES, run in order by `build_vta`, each visible in print(g)):
folding as for the CPU, then `offload_to_vta` (each conv2d [+ bias_add] [+ relu] chain VTA can
run becomes one int8 `vta_conv2d` node, with `quantize` / `dequantize` nodes where values cross
between float32 CPU operators and int8 VTA layers; consecutive layers pass int8 directly), then
`vta_layout` (every vta_conv2d reads and writes VTA's NCHW1n16c with its weights packed
OIHW16o16i at compile time; `layout_transform` nodes go where data enters or leaves VTA, and
cancel between consecutive VTA layers), then `fuse_ops` (each VTA layer a group of its own).

A value v is represented on VTA as q = clip(round(v / 2^e), -128, 127) (round half away from 0).
An offloaded conv + bias (+ ReLU) computes, in int32, acc = sum q_in * q_w + round(b / 2^(e_in+e_w))
and stores clip(acc >> (e_out - e_in - e_w), 0 if ReLU else -128, 127) as int8 with exponent
e_out. Consecutive offloaded layers pass int8 directly; CPU operators see dequantized float32
values (q * 2^e, exact). Quantize and dequantize are kernels built by our compiler.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

import workbench as wb
from workbench import te

from .interpreter import evaluate
from .ir import Graph, GraphError, Node, make_attrs
from .ops import Pattern, register, vta_block_of
from .passes import dead_node_elimination, fold_batch_norm, fold_constants, fuse_ops
from .strategy import lower_group


def exponent(maxabs: float) -> int:
    """The smallest e with maxabs / 2^e <= 127 (0 for an all-zero tensor)."""
    if maxabs <= 0 or not math.isfinite(maxabs):
        return 0
    return int(math.ceil(math.log2(maxabs / 127.0)))


def quantize_np(x: np.ndarray, e: int) -> np.ndarray:
    """numpy twin of the quantize kernel: the same float32 operations in the same order."""
    v = x.astype(np.float32) * np.float32(2.0 ** -e)
    v = np.where(v >= 0, v + np.float32(0.5), v - np.float32(0.5)).astype(np.float32)
    return np.clip(np.trunc(v).astype(np.int64), -128, 127).astype(np.int8)


def dequantize_np(q: np.ndarray, e: int) -> np.ndarray:
    return q.astype(np.float32) * np.float32(2.0 ** e)


def _quantize_te(x, e: int):
    """te twin of quantize_np (the scale 2^-e is exact, so the CPU kernel is bit-exact)."""
    scale = te.const(2.0 ** -e, "float32")

    def body(*i):
        v = x[i] * scale
        r = te.if_then_else(v >= te.const(0.0, "float32"), v + te.const(0.5, "float32"),
                            v - te.const(0.5, "float32"))
        # clip before the (truncating) cast, so no value outside int32 is ever converted
        r = te.min(te.max(r, te.const(-128.0, "float32")), te.const(127.0, "float32"))
        return r.astype("int32").astype("int8")
    return te.compute(x.shape, body, name="quantize")


def _dequantize_te(q, e: int):
    return te.compute(q.shape, lambda *i: q[i].astype("float32") * te.const(2.0 ** e, "float32"),
                      name="dequantize")


def _vta_conv_reference(a, n):
    """The int8 VTA convolution in numpy (accel's reference) on NCHW or NCHW1n16c data."""
    from accel.programs.layout import conv2d_reference, unpack_nchw
    data, w, bias = a
    packed = data.ndim == 6
    if packed:
        data = unpack_nchw(data)
        w = w.transpose(0, 4, 1, 5, 2, 3).reshape(w.shape[0] * w.shape[4], w.shape[1] * w.shape[5],
                                                  *w.shape[2:4])
    out = conv2d_reference(data, w, stride=n.attr("stride"), pad=n.attr("pad"),
                           shift=n.attr("shift"), clip=n.attr("clip"), bias=bias)
    if packed:
        bn, bc = vta_block_of(n.layout)
        N, C, H, W = out.shape
        out = out.reshape(N // bn, bn, C // bc, bc, H, W).transpose(0, 2, 4, 5, 1, 3)
    return np.ascontiguousarray(out)


def _vta_conv_compute(t, n):
    raise GraphError(f"node {n.name!r} (vta_conv2d) runs on VTA (graph.build(g, target=vta_env)); "
                     "it has no CPU compute")


# quantize is elementwise, so it fuses into the epilogue of the CPU operator that feeds VTA
register("quantize", Pattern.ELEMWISE, lambda n, s: tuple(s[0]),
         lambda t, n: _quantize_te(t[0], n.attr("exponent")),
         lambda a, n: quantize_np(a[0], n.attr("exponent")))
register("dequantize", Pattern.ELEMWISE, lambda n, s: tuple(s[0]),
         lambda t, n: _dequantize_te(t[0], n.attr("exponent")),
         lambda a, n: dequantize_np(a[0], n.attr("exponent")))
register("vta_conv2d", Pattern.OPAQUE, lambda n, s: n.shape, _vta_conv_compute,
         _vta_conv_reference, (3, 3))


@dataclass
class VTALayer:
    name: str                   # the graph value the layer produces (its tail)
    nodes: tuple
    source: str                 # the graph value it reads
    workload: object            # accel.programs.workloads.Conv2DWorkload
    wq: np.ndarray              # int8 OIHW
    bq: np.ndarray              # int32 per output channel
    e_in: int
    e_w: int
    e_out: int
    clip: tuple
    program: object = None
    buffers: dict = field(default_factory=dict)
    node: str = ""              # its vta_conv2d node in the offloaded graph

    @property
    def shift(self) -> int:
        return self.e_out - self.e_in - self.e_w


def _vta_candidates(g: Graph, env, nthreads: int):
    """conv2d (+ bias_add) (+ relu) chains VTA can run: channels multiples of its blocks, square
    kernel, equal strides, symmetric padding, a tiling that fits the SRAMs."""
    from accel.programs.conv2d import choose_tiles
    from accel.programs.workloads import Conv2DWorkload
    consumers = g.consumers()
    out = []
    for n in g.ops():
        if n.op != "conv2d" or n.inputs[1] not in g.params:
            continue
        F, C, KH, KW = g[n.inputs[1]].shape
        N, _, H, W = g[n.inputs[0]].shape
        sh, sw = n.attr("strides")
        pads = set(n.attr("padding"))
        if (C % env.BLOCK_IN or F % env.BLOCK_OUT or N % env.BATCH or KH != KW or sh != sw
                or len(pads) != 1 or tuple(n.attr("dilation")) != (1, 1) or H != W):
            continue
        wl = Conv2DWorkload(n.name, H, W, C, F, KH, pads.pop(), sh, N)
        try:
            choose_tiles(env, wl, nthreads)
        except ValueError:
            continue
        chain, tail = [n.name], n.name
        nxt = consumers[tail]
        if len(nxt) == 1 and nxt[0] and g[nxt[0]].op == "bias_add" and g[nxt[0]].inputs[1] in g.params:
            tail = nxt[0]
            chain.append(tail)
            nxt = consumers[tail]
        relu = len(nxt) == 1 and nxt[0] and g[nxt[0]].op == "relu"
        if relu:
            chain.append(nxt[0])
        out.append((chain, wl, relu))
    return out


class VTAGraphModule:
    """The offloaded graph run step by step: CPU groups (our compiler) and VTA layers (the
    simulator), in the order of the graph's fused groups. `graph` is the graph after VTA_PASSES."""

    def __init__(self, graph, env, steps, layers, exps, target, nthreads):
        from accel.vta import Simulator
        self.graph, self.env, self.steps, self.layers, self.exps = graph, env, steps, layers, exps
        self.target, self.nthreads = target, nthreads
        self.sim = Simulator(env)
        self.last_stats: dict = {}
        self.int8_values: dict = {}           # the last run's VTA layer outputs (int8 NCHW)

    def run(self, inputs: dict, *, profile: dict | None = None) -> dict:
        g = self.graph
        vals = {i: np.ascontiguousarray(inputs[i], np.float32) for i in g.inputs}
        for kind, step in self.steps:
            t0 = time.perf_counter()
            if kind == "cpu":
                kernel, sources, name = step
                out = np.zeros(g[name].shape, g[name].dtype)
                kernel(*[vals[src] if k == "value" else src for k, src in sources], out)
                vals[name] = out
                if profile is not None:
                    profile.setdefault(name, {"cpu_s": 0.0, "cycles": 0})["cpu_s"] += \
                        time.perf_counter() - t0
                continue
            layer: VTALayer = step
            node = g[layer.node]
            res = self.sim.run(layer.program, {"data": vals[node.inputs[0]]})
            vals[node.name] = np.ascontiguousarray(res.outputs["out"])
            self.int8_values[layer.name] = _to_nchw(vals[node.name], node.layout)
            self.last_stats[layer.name] = res.stats
            if profile is not None:
                p = profile.setdefault(layer.name, {"cpu_s": 0.0, "cycles": 0})
                p["cycles"] += res.stats.cycles
                p["cpu_s"] += time.perf_counter() - t0
        return {o: vals[o] for o in g.outputs}

    def profile(self, inputs: dict) -> "VTAProfile":
        prof: dict = {}
        t0 = time.perf_counter()
        self.run(inputs, profile=prof)
        return VTAProfile(time.perf_counter() - t0, prof, self.env)

    def reference(self, inputs: dict, *, keep_all: bool = False) -> dict:
        """The same offloaded graph in numpy (graph.evaluate): VTA layers by accel's int8 conv
        reference, quantize/dequantize/layout transforms and CPU operators by their numpy
        references. keep_all: {"float": every value, "int8": {layer: (int8 NCHW, exponent)}}."""
        vals = evaluate(self.graph, inputs, keep_all=True)
        if not keep_all:
            return {o: vals[o] for o in self.graph.outputs}
        ints = {layer.name: (_to_nchw(vals[layer.node], self.graph[layer.node].layout), layer.e_out)
                for layer in self.layers}
        return {"float": vals, "int8": ints}

    def __repr__(self):
        return (f"<VTAGraphModule {len(self.layers)} VTA layers, "
                f"{sum(k == 'cpu' for k, _ in self.steps)} CPU kernels, env {self.env}>")


def _to_nchw(a, layout):
    if vta_block_of(layout):
        from accel.programs.layout import unpack_nchw
        return np.ascontiguousarray(unpack_nchw(a))
    return a


@dataclass
class VTAProfile:
    wall: float
    layers: dict
    env: object

    @property
    def vta_cycles(self) -> int:
        return int(sum(v["cycles"] for v in self.layers.values()))

    def __str__(self):
        freq = getattr(self.env, "HW_FREQ", 100)
        lines = [f"VTA {self.vta_cycles} cycles ({self.vta_cycles / (freq * 1e6) * 1e3:.3f} ms at "
                 f"{freq} MHz); host wall time {self.wall * 1e3:.1f} ms (simulator included)",
                 f"{'layer':<28} {'where':<5} {'VTA cycles':>11} {'host ms':>9}"]
        for name, v in self.layers.items():
            where = "VTA" if v["cycles"] else "CPU"
            lines.append(f"{name:<28} {where:<5} {v['cycles']:>11} {v['cpu_s'] * 1e3:9.3f}")
        return "\n".join(lines)


# -- the VTA passes ----------------------------------------------------------------------------------
@dataclass
class VTAContext:
    """What the VTA passes share (passed where the CPU passes take a target): the VTA env, the
    calibrated max |value| per graph value, the simulator's thread count, and the layers the
    offload pass chose (filled in by it)."""
    env: object
    maxabs: dict
    nthreads: int = 2
    layers: list = field(default_factory=list)


def offload_to_vta(g: Graph, ctx: VTAContext) -> Graph:
    """Each conv2d [+ bias_add] [+ relu] chain VTA can run -> one int8 `vta_conv2d` node (NCHW),
    its weights quantized to int8 and its bias to int32 at compile time, the chain's tail value
    recovered by a `dequantize` node of the same name (so the CPU readers do not change), its
    input quantized by a `quantize` node -- or, when the input is the previous VTA layer's
    output, read as int8 directly (the exponents agree by construction)."""
    from accel.programs import conv2d as vta_conv
    cands = {chain[-1]: (chain, wl, relu) for chain, wl, relu in _vta_candidates(g, ctx.env,
                                                                                  ctx.nthreads)}
    inside = {n for chain, _, _ in cands.values() for n in chain[:-1]}
    params = dict(g.params)
    nodes: list = []
    e_of: dict = {}                   # VTA layer tail -> its output exponent
    int8_of: dict = {}                # VTA layer tail -> the vta_conv2d node (int8)
    quantized: dict = {}              # (value, exponent) -> quantize node
    ctx.layers = []
    for n in g.nodes:
        if n.name in inside:
            continue
        if n.name not in cands:
            nodes.append(n)
            continue
        chain, wl, relu = cands[n.name]
        conv = g[chain[0]]
        src = conv.inputs[0]
        e_in = e_of.get(src, exponent(ctx.maxabs[src]))
        w = params[conv.inputs[1]]
        e_w = exponent(float(np.abs(w).max()))
        wq = quantize_np(w, e_w)
        b = params[g[chain[1]].inputs[1]] if len(chain) > 1 and g[chain[1]].op == "bias_add" \
            else np.zeros(w.shape[0], np.float32)
        bq = np.round(b.astype(np.float64) * 2.0 ** -(e_in + e_w)).astype(np.int64)
        bq = np.clip(bq, -2**31, 2**31 - 1).astype(np.int32)
        e_out = max(exponent(ctx.maxabs[n.name]), e_in + e_w)
        layer = VTALayer(n.name, tuple(chain), src, wl, wq, bq, e_in, e_w, e_out,
                         (0, 127) if relu else (-128, 127), node=f"{n.name}_vta")
        layer.program, layer.buffers = vta_conv.build(ctx.env, wl, nthreads=ctx.nthreads,
                                                      shift=layer.shift, clip=layer.clip,
                                                      kernel=wq, bias=bq)
        if src in int8_of:
            data = int8_of[src]
        else:
            data = quantized.get((src, e_in))
            if data is None:
                data = quantized[(src, e_in)] = f"{src}_q{e_in}"
                nodes.append(Node(data, "quantize", (src,), make_attrs({"exponent": e_in}),
                                  g[src].shape, "int8", g[src].layout))
        wname, bname = f"{conv.inputs[1]}_int8", f"{n.name}_bias_int32"
        params[wname], params[bname] = wq, bq
        nodes += [Node(wname, "const", (), (), wq.shape, "int8", "OIHW"),
                  Node(bname, "const", (), (), bq.shape, "int32")]
        attrs = make_attrs({"stride": wl.stride, "pad": wl.pad, "shift": layer.shift,
                            "clip": layer.clip})
        nodes.append(Node(layer.node, "vta_conv2d", (data, wname, bname), attrs, n.shape, "int8",
                          "NCHW"))
        nodes.append(Node(n.name, "dequantize", (layer.node,), make_attrs({"exponent": e_out}),
                          n.shape, "float32", n.layout))
        e_of[n.name], int8_of[n.name] = e_out, layer.node
        ctx.layers.append(layer)
    return dead_node_elimination(g.replace_nodes(nodes, params=params))


def vta_layout(g: Graph, ctx: VTAContext) -> Graph:
    """Every vta_conv2d in VTA's layout: data and output NCHW{BATCH}n{BLOCK_IN}c, weights packed
    OIHW{BLOCK_OUT}o{BLOCK_IN}i once at compile time. A `layout_transform` goes where a value
    enters VTA (after its quantize) and where one leaves it (before its dequantize); between
    consecutive VTA layers the two would cancel, so none is placed."""
    from accel.programs.layout import pack_oihw
    env = ctx.env
    lay = f"NCHW{env.BATCH}n{env.BLOCK_IN}c"
    params = dict(g.params)
    nodes: list = []
    by_name: dict = {}
    cache: dict = {}

    def emit(n):
        nodes.append(n)
        by_name[n.name] = n

    def as_layout(name, layout):
        src = by_name[name]
        if src.layout == layout or (layout == "NCHW" and not vta_block_of(src.layout)):
            return name
        if src.op == "layout_transform" and src.attr("src") == layout:
            return src.inputs[0]                         # a transform back: cancels
        if (name, layout) not in cache:
            t = Node(f"{name}_to_{layout}", "layout_transform", (name,),
                     make_attrs({"src": src.layout, "dst": layout}),
                     _layout_shape_of(src.shape, src.layout, layout), src.dtype, layout)
            emit(t)
            cache[(name, layout)] = t.name
        return cache[(name, layout)]

    for n in g.nodes:
        if n.op == "vta_conv2d":
            data = as_layout(n.inputs[0], lay)
            wname = f"{n.inputs[1]}_OIHW{env.BLOCK_OUT}o{env.BLOCK_IN}i"
            if wname not in by_name:
                params[wname] = pack_oihw(params[n.inputs[1]], env)
                emit(Node(wname, "const", (), (), params[wname].shape, "int8",
                          f"OIHW{env.BLOCK_OUT}o{env.BLOCK_IN}i"))
            emit(Node(n.name, n.op, (data, wname, n.inputs[2]), n.attrs,
                      _layout_shape_of(n.shape, "NCHW", lay), n.dtype, lay))
        elif n.op in ("input", "const"):
            emit(n)
        else:
            emit(Node(n.name, n.op, tuple(as_layout(i, "NCHW") for i in n.inputs), n.attrs,
                      n.shape, n.dtype, n.layout))
    return dead_node_elimination(g.replace_nodes(nodes, params=params))


def _layout_shape_of(shape, src, dst):
    from .ops import _layout_shape
    return _layout_shape(shape, src or "NCHW", dst)


def _fuse_vta(g: Graph, ctx: VTAContext) -> Graph:
    return fuse_ops(g, fixed=[[n.name] for n in g.ops() if n.op == "vta_conv2d"])


VTA_PASSES = [
    ("fold_constants", lambda g, ctx: fold_constants(g)),
    ("fold_batch_norm", lambda g, ctx: fold_batch_norm(g)),
    ("fold_constants", lambda g, ctx: fold_constants(g)),
    ("offload_to_vta", offload_to_vta),
    ("vta_layout", vta_layout),
    ("fuse_ops", _fuse_vta),
]


def build_vta(g: Graph, env, *, calibration=None, nthreads: int = 2, target=None, log=None,
              verbose: bool = False):
    """Quantize, offload and compile `g` for VTA `env` (see the module docstring): VTA_PASSES in
    order, then every CPU group compiled by our compiler. `calibration`: a list of input dicts
    (default: 4 seeded standard-normal inputs). verbose: print the graph after each pass."""
    target = wb.Target.parse(target if target is not None else "llvm")
    folded = dead_node_elimination(fold_constants(fold_batch_norm(fold_constants(g))))
    if calibration is None:
        rng = np.random.default_rng(0)
        calibration = [{i: rng.standard_normal(g[i].shape).astype(np.float32) for i in g.inputs}
                       for _ in range(4)]
    maxabs: dict = {}
    for sample in calibration:
        for k, v in evaluate(folded, sample, keep_all=True).items():
            if folded[k].op != "const":
                maxabs[k] = max(maxabs.get(k, 0.0), float(np.abs(v).max()))
    ctx = VTAContext(env, maxabs, nthreads)
    for name, fn in VTA_PASSES:
        g = fn(g, ctx)
        if verbose:
            print(f"-- after {name}:\n{g}")
    layers = {layer.node: layer for layer in ctx.layers}
    steps = []
    for gid, names in g.groups().items():
        if names[0] in layers:
            steps.append(("vta", layers[names[0]]))
            continue
        prog = lower_group(g, names)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wb.ScheduleWarning)    # as in executor.build
            kernel = wb.build(prog.schedule, prog.args, target=target, name=f"g{gid}")
        sources = []
        for idx, src in enumerate(prog.sources):
            if src in g.params:
                fn = prog.transforms.get(idx)
                arr = g.params[src]
                sources.append(("const", np.ascontiguousarray(fn(arr) if fn else arr)))
            else:
                sources.append(("value", src))
        steps.append(("cpu", (kernel, sources, names[-1])))
    return VTAGraphModule(g, env, steps, ctx.layers, {l.name: l.e_out for l in ctx.layers},
                          target, nthreads)
