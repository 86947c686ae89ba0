"""Graph execution with VTA: int8 quantization (symmetric, per-tensor, power-of-two scales from
calibration, as VTA's flow does), the convolutions VTA can run offloaded to VTA programs (run on
the simulator), the rest compiled for the CPU.

    mod = graph.build(g, target=vta.Env.default(), calibration=[{"input": x0}, ...])
    out = mod.run({"input": x})
    print(mod.profile())                  # per layer: simulated VTA cycles, CPU time
    ref = mod.reference({"input": x})     # the numpy model of the same quantized graph

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
from .ir import Graph
from .ops import get as get_op
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


def _quantize_kernel(shape, target):
    """(x float32, scale (1,) = 2^-e) -> int8; one kernel per shape, the exponent is an argument."""
    x = te.placeholder(shape, "float32", name="x")
    scale = te.placeholder((1,), "float32", name="scale")

    def body(*i):
        v = x[i] * scale[0]
        r = te.if_then_else(v >= te.const(0.0, "float32"), v + te.const(0.5, "float32"),
                            v - te.const(0.5, "float32")).astype("int32")     # truncates
        return te.min(te.max(r, te.const(-128, "int32")), te.const(127, "int32")).astype("int8")
    q = te.compute(shape, body, name="quantize")
    return wb.build(wb.create_schedule(q), [x, scale, q], target=target)


def _dequantize_kernel(shape, target):
    q = te.placeholder(shape, "int8", name="q")
    scale = te.placeholder((1,), "float32", name="scale")
    x = te.compute(shape, lambda *i: q[i].astype("float32") * scale[0], name="dequantize")
    return wb.build(wb.create_schedule(x), [q, scale, x], target=target)


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
    """Steps in order: CPU kernels (float32, our compiler) and VTA layers (simulated)."""

    def __init__(self, graph, env, steps, layers, exps, target, nthreads):
        from accel.vta import Simulator
        self.graph, self.env, self.steps, self.layers, self.exps = graph, env, steps, layers, exps
        self.target, self.nthreads = target, nthreads
        self.sim = Simulator(env)
        self.last_stats: dict = {}
        self.int8_values: dict = {}           # the last run's VTA layer outputs (int8)
        self._qk: dict = {}

    def _quant(self, shape, e, kind):
        """The (de)quantize kernel for this shape, and the scale argument for exponent e."""
        key = (tuple(shape), kind)
        if key not in self._qk:
            build = _quantize_kernel if kind == "q" else _dequantize_kernel
            self._qk[key] = build(tuple(shape), self.target)
        scale = np.array([2.0 ** (-e if kind == "q" else e)], np.float32)
        return lambda a, out: self._qk[key](a, scale, out)

    def run(self, inputs: dict, *, profile: dict | None = None) -> dict:
        from accel.programs.layout import pack_nchw, unpack_nchw
        g = self.graph
        floats = {k: np.ascontiguousarray(v, np.float32) for k, v in inputs.items()}
        ints: dict = {}                          # value -> (int8 array, exponent)
        for kind, step in self.steps:
            t0 = time.perf_counter()
            if kind == "cpu":
                prog_kernel, sources, name = step
                args = [self._float(src, floats, ints) if k == "value" else src
                        for k, src in sources]
                out = np.zeros(g[name].shape, g[name].dtype)
                prog_kernel(*args, out)
                floats[name] = out
                if profile is not None:
                    profile.setdefault(name, {"cpu_s": 0.0, "cycles": 0})["cpu_s"] += \
                        time.perf_counter() - t0
                continue
            layer: VTALayer = step
            q = self._int8(layer.source, layer.e_in, floats, ints)
            res = self.sim.run(layer.program, {"data": pack_nchw(q, self.env)})
            ints[layer.name] = (np.ascontiguousarray(unpack_nchw(res.outputs["out"])), layer.e_out)
            self.int8_values[layer.name] = ints[layer.name][0]
            self.last_stats[layer.name] = res.stats
            if profile is not None:
                p = profile.setdefault(layer.name, {"cpu_s": 0.0, "cycles": 0})
                p["cycles"] += res.stats.cycles
                p["cpu_s"] += time.perf_counter() - t0
        return {o: self._float(o, floats, ints) for o in g.outputs}

    def _float(self, name, floats, ints):
        if name not in floats:
            q, e = ints[name]
            out = np.zeros(q.shape, np.float32)
            self._quant(q.shape, e, "d")(q, out)
            floats[name] = out
        return floats[name]

    def _int8(self, name, e, floats, ints):
        if name in ints and ints[name][1] == e:
            return ints[name][0]
        x = self._float(name, floats, ints)
        q = np.zeros(x.shape, np.int8)
        self._quant(x.shape, e, "q")(x, q)
        return q

    def profile(self, inputs: dict) -> "VTAProfile":
        prof: dict = {}
        t0 = time.perf_counter()
        self.run(inputs, profile=prof)
        return VTAProfile(time.perf_counter() - t0, prof, self.env)

    def reference(self, inputs: dict, *, keep_all: bool = False) -> dict:
        """The quantized graph in numpy: the VTA layers by accel's int8 conv reference, CPU
        operators by their numpy references, the same quantize/dequantize arithmetic."""
        from accel.programs.conv2d import reference as conv_ref
        g = self.graph
        vals = {k: np.asarray(v, np.float32) for k, v in inputs.items()}
        ints: dict = {}
        by_tail = {layer.name: layer for layer in self.layers}
        inside = {n for layer in self.layers for n in layer.nodes}

        def fval(name):
            if name not in vals:
                q, e = ints[name]
                vals[name] = dequantize_np(q, e)
            return vals[name]
        for n in g.nodes:
            if n.name in by_tail:
                layer = by_tail[n.name]
                src = layer.source
                q = ints[src][0] if src in ints and ints[src][1] == layer.e_in else \
                    quantize_np(fval(src), layer.e_in)
                ints[n.name] = (conv_ref(layer.workload, q, layer.wq, shift=layer.shift,
                                         clip=layer.clip, bias=layer.bq), layer.e_out)
            elif n.name in inside or n.op == "input":
                continue
            elif n.op == "const":
                vals[n.name] = g.params[n.name]
            else:
                vals[n.name] = np.asarray(get_op(n.op).reference([fval(i) for i in n.inputs], n),
                                          n.dtype).reshape(n.shape)
        if keep_all:
            return {"float": vals, "int8": ints}
        return {o: fval(o) for o in g.outputs}

    def __repr__(self):
        return (f"<VTAGraphModule {len(self.layers)} VTA layers, "
                f"{sum(k == 'cpu' for k, _ in self.steps)} CPU kernels, env {self.env}>")


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


def build_vta(g: Graph, env, *, calibration=None, nthreads: int = 2, target=None, log=None):
    """Quantize, offload and compile `g` for VTA `env` (see the module docstring). `calibration`:
    a list of input dicts (default: 4 seeded standard-normal inputs)."""
    from accel.programs import conv2d as vta_conv
    target = wb.Target.parse(target if target is not None else "llvm")
    g = dead_node_elimination(fold_constants(fold_batch_norm(fold_constants(g))))
    if calibration is None:
        rng = np.random.default_rng(0)
        calibration = [{i: rng.standard_normal(g[i].shape).astype(np.float32) for i in g.inputs}
                       for _ in range(4)]
    maxabs: dict = {}
    for sample in calibration:
        for k, v in evaluate(g, sample, keep_all=True).items():
            if g[k].op not in ("const",):
                maxabs[k] = max(maxabs.get(k, 0.0), float(np.abs(v).max()))
    cands = _vta_candidates(g, env, nthreads)
    layers, e_of = [], {}
    for chain, wl, relu in cands:
        conv = g[chain[0]]
        src = conv.inputs[0]
        e_in = e_of.get(src, exponent(maxabs[src]))
        w = g.params[conv.inputs[1]]
        e_w = exponent(float(np.abs(w).max()))
        wq = quantize_np(w, e_w)
        b = g.params[g[chain[1]].inputs[1]] if len(chain) > 1 and g[chain[1]].op == "bias_add" \
            else np.zeros(w.shape[0], np.float32)
        bq = np.round(b.astype(np.float64) * 2.0 ** -(e_in + e_w)).astype(np.int64)
        bq = np.clip(bq, -2**31, 2**31 - 1).astype(np.int32)
        tail = chain[-1]
        e_out = max(exponent(maxabs[tail]), e_in + e_w)
        layer = VTALayer(tail, tuple(chain), src, wl, wq, bq, e_in, e_w, e_out,
                         (0, 127) if relu else (-128, 127))
        layer.program, layer.buffers = vta_conv.build(env, wl, nthreads=nthreads, shift=layer.shift,
                                                      clip=layer.clip, kernel=wq, bias=bq)
        e_of[tail] = e_out
        layers.append(layer)
    fused = fuse_ops(g, fixed=[layer.nodes for layer in layers])
    by_node = {n: layer for layer in layers for n in layer.nodes}
    steps = []
    for gid, names in fused.groups().items():
        if names[0] in by_node:
            steps.append(("vta", by_node[names[0]]))
            continue
        prog = lower_group(fused, names)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wb.ScheduleWarning)    # as in executor.build
            kernel = wb.build(prog.schedule, prog.args, target=target, name=f"g{gid}")
        sources = []
        for idx, src in enumerate(prog.sources):
            if src in fused.params:
                fn = prog.transforms.get(idx)
                arr = fused.params[src]
                sources.append(("const", np.ascontiguousarray(fn(arr) if fn else arr)))
            else:
                sources.append(("value", src))
        steps.append(("cpu", (kernel, sources, names[-1])))
    return VTAGraphModule(fused, env, steps, layers, e_of, target, nthreads)
