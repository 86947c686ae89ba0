"""The graph executor: every fused group compiled (by wb.build) into one kernel, run in order over
buffers assigned by the memory planner.

    mod = graph.build(g, target=None, log=None)
    out = mod.run({"input": x})          # dict output name -> array
    prof = mod.time({"input": x})        # whole-network latency + per-layer profile; print(prof)
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

import workbench as wb

from .ir import Graph, GraphError
from .memory import MemoryPlan, plan_memory
from .passes import fuse_ops
from .strategy import GroupProgram, anchor_of, lower_group
from .tasks import tuned_knobs


@dataclass
class Step:
    name: str                     # the group's output node
    nodes: tuple                  # node names fused in this group
    anchor: str
    kernel: object                # runtime.Kernel
    sources: tuple                # per kernel input: ("value", name) or ("const", prepared array)
    shape: tuple
    dtype: str
    flops: int
    config: dict

    def describe(self) -> str:
        return "+".join(n for n in self.nodes)


class GraphModule:
    """A compiled graph. `run(inputs)` -> {output name: array}; `time(inputs)` -> Profile;
    `num_threads` applies to every kernel."""

    def __init__(self, graph: Graph, steps: list, plan: MemoryPlan, build_time: float):
        self.graph = graph
        self.steps = steps
        self.plan = plan
        self.build_time = build_time
        self._buffers = plan.allocate()
        self._bind()

    @property
    def num_threads(self) -> int:
        return self.steps[0].kernel.num_threads if self.steps else 1

    @num_threads.setter
    def num_threads(self, n: int):
        for st in self.steps:
            st.kernel.num_threads = n

    def __repr__(self):
        return (f"<GraphModule {len(self.steps)} kernels, inputs {list(self.graph.inputs)}, "
                f"outputs {list(self.graph.outputs)}, threads={self.num_threads}>")

    def _check_inputs(self, inputs: dict) -> dict:
        if not isinstance(inputs, dict):
            raise TypeError(f"run() takes a dict input name -> array, got {type(inputs).__name__}")
        missing = [i for i in self.graph.inputs if i not in inputs]
        extra = [k for k in inputs if k not in self.graph.inputs]
        if missing or extra:
            raise ValueError(f"run(): inputs are {list(self.graph.inputs)}; missing {missing}, "
                             f"unexpected {extra}")
        vals = {}
        for name in self.graph.inputs:
            node = self.graph[name]
            a = np.ascontiguousarray(inputs[name])
            if a.shape != node.shape:
                raise ValueError(f"run(): input {name!r} must have shape {node.shape}, got {a.shape}")
            if a.dtype != np.dtype(node.dtype):
                raise TypeError(f"run(): input {name!r} must be {node.dtype}, got {a.dtype}")
            vals[name] = a
        return vals

    def _bind(self):
        """Every kernel bound (Kernel.bind) to its arrays once: activations live in the planned
        buffers, inputs are copied into buffers of their own, constants are fixed, so a run is
        one ctypes call per kernel with no per-call argument checks."""
        self._inputs = {i: np.empty(self.graph[i].shape, self.graph[i].dtype)
                        for i in self.graph.inputs}
        self._bound = []
        for st in self.steps:
            args = [(self._inputs.get(src) if src in self._inputs else self._buffers[src])
                    if kind == "value" else src for kind, src in st.sources]
            args.append(self._buffers[st.name])
            self._bound.append(st.kernel.bind(*args))

    def _execute(self, timings: list | None = None) -> None:
        if timings is None:
            for call in self._bound:
                call()
            return
        for call in self._bound:
            t0 = time.perf_counter()
            call()
            timings.append(time.perf_counter() - t0)

    def _load(self, inputs: dict) -> None:
        for name, a in self._check_inputs(inputs).items():
            np.copyto(self._inputs[name], a)

    def _value(self, name):
        return self._inputs[name] if name in self._inputs else self._buffers[name]

    def run(self, inputs: dict) -> dict:
        self._load(inputs)
        self._execute()
        return {o: self._value(o).copy() for o in self.graph.outputs}

    def time(self, inputs: dict | None = None, repeat: int = 5, min_time: float = 0.2) -> "Profile":
        """Whole-network latency (median of `repeat` batches of runs lasting >= min_time s each),
        and a per-layer profile measured in separate runs (so its timers do not count)."""
        if inputs is None:
            rng = np.random.default_rng(0)
            inputs = {i: rng.standard_normal(self.graph[i].shape).astype(self.graph[i].dtype)
                      for i in self.graph.inputs}
        self._load(inputs)
        self._execute()                                 # warm up
        runs = []
        for _ in range(repeat):
            n, t0 = 0, time.perf_counter()
            while True:
                self._execute()
                n += 1
                if time.perf_counter() - t0 >= min_time:
                    break
            runs.append((time.perf_counter() - t0) / n)
        per_layer = []
        for _ in range(repeat):
            timings: list = []
            self._execute(timings)
            per_layer.append(timings)
        layer = np.median(np.array(per_layer), axis=0)
        return Profile(float(np.median(runs)), [
            (st.describe(), st.shape, float(t), st.flops) for st, t in zip(self.steps, layer)],
            self.num_threads)


@dataclass
class Profile:
    latency: float                 # seconds per whole-network run (median)
    layers: list                   # (name, shape, seconds, flops)
    threads: int

    def __str__(self):
        total = sum(t for _, _, t, _ in self.layers) or 1.0
        lines = [f"latency {self.latency * 1e3:.3f} ms ({self.threads} thread(s)); "
                 f"{len(self.layers)} kernels",
                 f"{'#':>3} {'layer':<48} {'shape':<20} {'ms':>8} {'share':>6} {'GFLOP/s':>8}"]
        for i, (name, shape, t, fl) in enumerate(self.layers):
            name = name if len(name) <= 48 else name[:45] + "..."
            gf = f"{fl / t / 1e9:8.1f}" if fl and t > 0 else f"{'':>8}"
            lines.append(f"{i:>3} {name:<48} {'x'.join(map(str, shape)):<20} {t * 1e3:8.3f} "
                         f"{t / total:6.1%} {gf}")
        return "\n".join(lines)

    def top(self, k: int = 5) -> list:
        return sorted(self.layers, key=lambda r: -r[2])[:k]

    def records(self) -> list:
        """One dict per kernel (name, shape, seconds, share, gflops): for a table or a plot."""
        total = sum(t for _, _, t, _ in self.layers) or 1.0
        return [dict(name=n, shape=tuple(sh), seconds=t, share=t / total,
                     gflops=(fl / t / 1e9 if fl and t > 0 else None))
                for n, sh, t, fl in self.layers]


def node_flops(g: Graph, n) -> int:
    """Multiply-adds count two; other ops one per output element. A Winograd conv counts the
    direct convolution's multiply-adds, so its GFLOP/s compares with the direct ones."""
    out = int(np.prod(n.shape))
    if n.op == "conv2d_winograd_nchwc":     # the direct convolution's count ("effective" FLOPs)
        w = g[n.inputs[1]].shape            # (4, 4, O/ob, I/ib, ib, ob)
        return 2 * out * w[3] * w[4] * 9
    if n.op in ("conv2d", "conv2d_nchwc", "depthwise_conv2d", "depthwise_conv2d_nchwc",
                "conv2d_transpose", "dense"):
        w = g[n.inputs[1]].shape
        if n.op == "conv2d":
            return 2 * out * int(np.prod(w[1:]))
        if n.op == "conv2d_nchwc":          # (O/ob, I[/ib], KH, KW, [ib,] ob)
            return 2 * out * int(np.prod(w[1:-1]))
        if n.op == "depthwise_conv2d":
            return 2 * out * int(np.prod(w[2:]))
        if n.op == "depthwise_conv2d_nchwc":
            return 2 * out * int(np.prod(w[1:3]))
        if n.op == "conv2d_transpose":
            return 2 * int(np.prod(g[n.inputs[0]].shape)) * int(np.prod(w[1:]))
        return 2 * out * w[1]
    return out


def build(g: Graph, target=None, log=None, *, plan_memory_reuse: bool = True,
          num_threads: int | None = None, progress: bool = False, calibration=None):
    """Compile every fused group of `g` (fusing first if it has no groups) for the host CPU.
    `log`: a tuning log whose best configs replace the default schedules (when tune lands);
    `target`: None / "llvm" / a wb.Target for the CPU, or an accel.vta.Env: then the graph is
    quantized (calibrated on `calibration`, a list of input dicts) and its convolutions run on
    the VTA simulator (see graph.vta; returns a VTAGraphModule)."""
    if target is not None and type(target).__name__ == "Env":
        from .vta import build_vta
        return build_vta(g, target, calibration=calibration, log=log)
    if not isinstance(g, Graph):
        raise TypeError(f"build: expected a graph.Graph, got {type(g).__name__}")
    target = wb.Target.parse(target if target is not None else "llvm")
    t0 = time.perf_counter()
    if any(n.group is None for n in g.ops()):
        g = fuse_ops(g)
    groups = g.groups()
    steps = []
    items = list(groups.items())
    if progress:
        from tqdm.auto import tqdm
        items = tqdm(items, desc="compiling groups", unit="kernel")
    cache: dict = {}
    knob_cache: dict = {}
    for gid, names in items:
        anchor = anchor_of(g, names)
        tuned = tuned_knobs(log, g, anchor, knob_cache) if log and anchor else {}
        prog: GroupProgram = lower_group(g, names, tuned=tuned)
        key = _program_key(g, names)
        kernel = cache.get(key)
        if kernel is None:
            try:
                with warnings.catch_warnings():
                    # a vectorize the lowering cannot honour runs as a loop: fine for the
                    # generic schedules of small injective groups, not worth a warning each
                    warnings.simplefilter("ignore", wb.ScheduleWarning)
                    kernel = wb.build(prog.schedule, prog.args, target=target,
                                      name=f"g{gid}_{g[names[-1]].op}")
            except Exception as e:
                raise GraphError(f"compiling fused group {gid} ({'+'.join(names)}): {e}") from e
            cache[key] = kernel
        if num_threads is not None:
            kernel.num_threads = num_threads
        sources = []
        for idx, src in enumerate(prog.sources):
            if src in g.params:
                arr = g.params[src]
                fn = prog.transforms.get(idx)
                arr = np.ascontiguousarray(fn(arr) if fn else arr, dtype=g[src].dtype)
                sources.append(("const", arr))
            else:
                sources.append(("value", src))
        last = g[names[-1]]
        steps.append(Step(last.name, tuple(names), prog.anchor, kernel, tuple(sources), last.shape,
                          last.dtype, sum(node_flops(g, g[n]) for n in names), prog.config))
    plan = plan_memory(g, [(st.name, [s for k, s in st.sources if k == "value"]) for st in steps],
                       reuse=plan_memory_reuse)
    return GraphModule(g, steps, plan, time.perf_counter() - t0)


def _program_key(g: Graph, names) -> tuple:
    """Groups with the same ops, attributes, shapes and wiring share one compiled kernel."""
    pos = {n: k for k, n in enumerate(names)}
    ext: list = []

    def ref(i):
        if i in pos:
            return ("node", pos[i])
        if i not in ext:
            ext.append(i)
        return ("arg", ext.index(i), g[i].shape, i in g.params)
    return tuple((g[n].op, g[n].attrs, g[n].shape, tuple(ref(i) for i in g[n].inputs))
                 for n in names)
