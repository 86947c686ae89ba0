""""Why is it fast or slow": a per-loop account of a schedule, with plain-language warnings.

Works on the schedule itself (not the printed IR), so every finding names a stage and a leaf axis
the explorer can select and fix. For each compute stage with loops it evaluates every tensor
access as a flat (row-major) element index of the leaf loop variables, which gives

- the stride of each access along every loop (elements per iteration),
- the working set of each loop level (the data one full run of that loop touches, in cache lines),
- vector-lane use of vectorized loops and the parallel loops' grain and balance,

and turns them into warnings with a suggested fix written as a primitive. Numbers are estimates of
a simple model (no cache associativity, hardware prefetch or bound inference of attached stages);
the warnings are validated by measurement in notebooks/01 and tests/ui/test_analysis.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import expr as E
from ..ir.visitor import substitute, walk
from ..schedule.stage import Fuse, Split
from ..te.tensor import ComputeOp
from .machine import Machine, fmt_bytes, host

CACHE_LINE = 64
THREAD_LAUNCH_OPS = 20_000   # a parallel region should carry at least this much work per launch


@dataclass(frozen=True)
class Access:
    tensor: str
    write: bool
    elem_bytes: int
    tensor_bytes: int
    strides: tuple            # elements per iteration of each leaf loop (None: not affine here)


@dataclass(frozen=True)
class LoopInfo:
    stage: str
    axis: str
    depth: int
    extent: int
    kind: str                 # "serial" | "parallel" | "vectorized" | "unrolled" (+ "reduce" axes)
    reduce: bool
    working_set: int          # bytes one full run of this loop touches
    per_tensor: tuple         # (tensor, bytes)
    fits: str                 # "L1" | "L2" | "L3" | "DRAM"


@dataclass(frozen=True)
class Finding:
    stage: str
    axis: str | None
    severity: str             # "warn" | "hint"
    kind: str                 # "stride" | "lanes" | "parallel" | "balance" | "reuse" | "no-parallel" | "no-vector"
    message: str
    fix: str = ""             # a suggested primitive, as Python


@dataclass(frozen=True)
class StageAnalysis:
    stage: str
    loops: tuple
    accesses: tuple
    note: str = ""


@dataclass(frozen=True)
class Analysis:
    stages: tuple
    findings: tuple
    machine: Machine = field(repr=False)

    def for_loop(self, stage: str, axis: str) -> list:
        return [f for f in self.findings if f.stage == stage and f.axis == axis]

    def loop(self, stage: str, axis: str) -> LoopInfo | None:
        for st in self.stages:
            for lp in st.loops:
                if st.stage == stage and lp.axis == axis:
                    return lp
        return None

    def kinds(self) -> set:
        return {f.kind for f in self.findings}


# ------------------------------------------------------------------------------------------------
# evaluation of index expressions
_BIN = {E.Add: lambda a, b: a + b, E.Sub: lambda a, b: a - b, E.Mul: lambda a, b: a * b,
        E.FloorDiv: lambda a, b: a // b if b else 0, E.FloorMod: lambda a, b: a % b if b else 0,
        E.Min: min, E.Max: max}


class _NotAffine(Exception):
    pass


def _eval(e, env: dict) -> int:
    t = type(e)
    if t is E.Const:
        return int(e.value)
    if t is E.Var:
        return env[e]
    if t in _BIN:
        return _BIN[t](_eval(e.a, env), _eval(e.b, env))
    if t is E.Cast:
        return _eval(e.value, env)
    if t is E.Select:
        return _eval(e.t, env)
    raise _NotAffine(t.__name__)


def _leaf_to_root(stage, values: dict) -> dict:
    """Values of every iter var from the leaf values (relations undone newest first)."""
    vals = dict(values)
    for r in reversed(stage.relations):
        if isinstance(r, Split):
            vals[r.parent] = vals.get(r.outer, 0) * r.inner.extent + vals.get(r.inner, 0)
        elif isinstance(r, Fuse):
            f = vals.get(r.fused, 0)
            vals[r.outer], vals[r.inner] = f // r.inner.extent, f % r.inner.extent
    return vals


def _reads(stage, sch) -> list:
    """(tensor, index exprs over root vars) read by the stage, looking through inlined stages."""
    out = []

    def visit(n):
        if type(n) is not E.TensorRead:
            return
        try:
            src = sch[n.tensor]
        except KeyError:
            src = None
        if src is not None and src.attach == "inline" and isinstance(src.op, ComputeOp):
            vmap = {iv.var: idx for iv, idx in zip(src.op.axis, n.indices)}
            walk(substitute(src.op.body, vmap), visit)
        else:
            out.append((n.tensor, n.indices))
    walk(stage.op.body, visit)
    return out


def _flat(tensor, indices, root_vals: dict) -> int:
    flat = 0
    for ext, idx in zip(tensor.shape, indices):
        flat = flat * int(ext) + _eval(idx, root_vals)
    return flat


def _accesses(stage, sch) -> list:
    leaves = stage.leaf_iter_vars
    root_vars = {iv: iv.var for iv in stage.all_iter_vars}
    out_t = stage.op.output(0)
    items = [(t, idx, False) for t, idx in _reads(stage, sch)]
    items.append((out_t, tuple(iv.var for iv in stage.op.axis), True))
    result = []

    def env_for(vals):
        full = _leaf_to_root(stage, vals)
        return {root_vars[iv]: v for iv, v in full.items() if iv in root_vars}

    base_env = env_for({iv: 0 for iv in leaves})
    for tensor, idx, write in items:
        eb = np.dtype(tensor.dtype).itemsize
        size = int(np.prod([int(x) for x in tensor.shape], dtype=np.int64)) * eb
        try:
            base = _flat(tensor, idx, base_env)
            strides = []
            for iv in leaves:
                one = 1 if iv.extent > 1 else 0
                env = env_for({lv: (one if lv is iv else 0) for lv in leaves})
                strides.append(_flat(tensor, idx, env) - base)
            strides = tuple(strides)
        except (_NotAffine, KeyError):
            strides = tuple(None for _ in leaves)
        result.append(Access(tensor.name or tensor.op.name, write, eb, size, strides))
    return result


def _footprint(acc: Access, leaves, depth: int) -> int:
    """Bytes of `acc`'s tensor one run of loop `depth` (and everything inside) touches."""
    elems, span, smallest = 1, 1, None
    for d in range(depth, len(leaves)):
        s = acc.strides[d]
        if s is None:
            return acc.tensor_bytes
        if s:
            elems *= leaves[d].extent
            span += abs(s) * (leaves[d].extent - 1)
            smallest = abs(s) if smallest is None else min(smallest, abs(s))
    elems = min(elems, span)
    # a strided walk pulls a whole cache line per element
    per_elem = acc.elem_bytes if smallest is None else max(acc.elem_bytes,
                                                            min(CACHE_LINE, smallest * acc.elem_bytes))
    return min(elems * per_elem, max(acc.tensor_bytes, CACHE_LINE))


def _kind(stage, iv) -> str:
    return stage.kinds.get(iv, "serial")


def _order_with_last(leaves, last) -> str:
    names = [iv.name for iv in leaves if iv is not last] + [last.name]
    return ", ".join(repr(n) for n in names)


# ------------------------------------------------------------------------------------------------
def analyze(sch, machine: Machine | None = None) -> Analysis:
    """Loop-by-loop analysis of every compute stage of `sch`, plus findings."""
    m = machine or host()
    stages, findings = [], []
    for st in sch.stages:
        if st.is_placeholder or st.attach == "inline" or not isinstance(st.op, ComputeOp):
            continue
        leaves = st.leaf_iter_vars
        if not leaves:
            continue
        accs = _accesses(st, sch)
        loops = []
        for d, iv in enumerate(leaves):
            per = {}
            for a in accs:
                per[a.tensor] = max(per.get(a.tensor, 0), _footprint(a, leaves, d))
            ws = sum(per.values())
            loops.append(LoopInfo(st.name, iv.name, d, iv.extent, _kind(st, iv), iv.kind == "reduce",
                                  ws, tuple(per.items()), m.level_of(ws)))
        note = "" if st.attach == "root" else (f"computed at {st.attach_stage.name}."
                                               f"{st.attach_ivar.name}: extents are the full domain")
        stages.append(StageAnalysis(st.name, tuple(loops), tuple(accs), note))
        findings += _stride_findings(st, leaves, accs)
        findings += _lane_findings(st, leaves, accs, m)
        findings += _parallel_findings(st, leaves, m, sch)
        findings += _reuse_findings(st, leaves, accs, loops, m)
    return Analysis(tuple(stages), tuple(findings), m)


def _unit(acc: Access) -> str:
    return {4: "floats", 8: "doubles", 1: "bytes", 2: "halves"}.get(acc.elem_bytes, "elements")


def _stride_findings(st, leaves, accs) -> list:
    inner = leaves[-1]
    d = len(leaves) - 1
    out = []
    bad = [a for a in accs if a.strides[d] not in (0, 1, -1) and inner.extent > 1]
    for a in bad:
        s = a.strides[d]
        what = "unknown stride (non-affine index)" if s is None else f"stride {s} {_unit(a)}"
        better = [iv for k, iv in enumerate(leaves) if iv is not inner and iv.extent > 1
                  and all(x.strides[k] in (0, 1) for x in accs)]
        fix = ""
        if better:
            cand = better[-1]
            fix = f"s[{st.name!r}].reorder({_order_with_last(leaves, cand)})  # {cand.name} innermost"
        verb = "writes" if a.write else "walks"
        out.append(Finding(st.name, inner.name, "warn", "stride",
                           f"the innermost loop {inner.name} {verb} {a.tensor} with {what}: not "
                           "contiguous, cannot vectorize well" + (f"; make {better[-1].name} innermost"
                                                                  if better else ""), fix))
    if not bad and "vectorized" not in st.kinds.values() and inner.kind == "data" and inner.extent > 1:
        out.append(Finding(st.name, inner.name, "hint", "no-vector",
                           f"the innermost loop {inner.name} reads contiguously but is not vectorized",
                           f"s[{st.name!r}].vectorize({inner.name!r})  # split it first if longer "
                           "than a few vectors"))
    return out


def _lane_findings(st, leaves, accs, m: Machine) -> list:
    out = []
    for d, iv in enumerate(leaves):
        if st.kinds.get(iv) != "vectorized":
            continue
        eb = max(a.elem_bytes for a in accs)
        lanes = m.lanes(eb)
        if d != len(leaves) - 1:
            out.append(Finding(st.name, iv.name, "warn", "lanes",
                               f"{iv.name} is vectorized but is not the innermost loop; the loops "
                               "inside it run once per lane", f"s[{st.name!r}].reorder("
                               f"{_order_with_last(leaves, iv)})"))
        gathers = [a.tensor for a in accs if a.strides[d] not in (0, 1)]
        if gathers:
            out.append(Finding(st.name, iv.name, "warn", "stride",
                               f"vectorized {iv.name} reads {', '.join(gathers)} with a non-unit "
                               "stride: each vector is gathered element by element"))
        used = iv.extent / (lanes * -(-iv.extent // lanes))
        if used < 0.75:
            fix = (f"s[{st.name!r}].split({iv.name!r}, factor={lanes})  # then vectorize the inner "
                   "part") if iv.extent > lanes else ""
            out.append(Finding(st.name, iv.name, "warn", "lanes",
                               f"vectorized {iv.name} has {iv.extent} lanes on {lanes}-lane "
                               f"registers ({m.vector_bits}-bit): {used:.0%} of the lanes do work",
                               fix))
    return out


def _parallel_findings(st, leaves, m: Machine, sch) -> list:
    out = []
    work = int(np.prod([iv.extent for iv in leaves], dtype=np.int64))
    par = [(d, iv) for d, iv in enumerate(leaves) if st.kinds.get(iv) == "parallel"]
    data_outer = next((iv for iv in leaves if iv.kind == "data" and iv.extent > 1), None)
    if not par and m.cores > 1 and st.is_output and work >= 1 << 16 and data_outer is not None:
        out.append(Finding(st.name, data_outer.name, "hint", "no-parallel",
                           f"no parallel loop: 1 of {m.cores} cores does the work",
                           f"s[{st.name!r}].parallel({data_outer.name!r})"))
    for d, iv in par:
        launches = int(np.prod([lv.extent for lv in leaves[:d]], dtype=np.int64))
        grain = int(np.prod([lv.extent for lv in leaves[d + 1:]], dtype=np.int64))
        if launches > 1 and grain * iv.extent < THREAD_LAUNCH_OPS * m.cores:
            fix = f"s[{st.name!r}].parallel({data_outer.name!r})" if data_outer is not None and \
                data_outer is not iv and data_outer not in st.kinds else ""
            out.append(Finding(st.name, iv.name, "warn", "parallel",
                               f"parallel loop {iv.name} sits inside loops that run {launches:,} "
                               f"times: the thread team starts {launches:,} times for only "
                               f"{grain * iv.extent:,} iterations of work each; parallelize an "
                               "outer loop instead", fix))
        if iv.extent < m.cores:
            out.append(Finding(st.name, iv.name, "warn", "balance",
                               f"parallel {iv.name} has {iv.extent} iteration(s) for {m.cores} cores: "
                               f"{m.cores - iv.extent} core(s) idle"))
        else:
            eff = iv.extent / (m.cores * -(-iv.extent // m.cores))
            if eff < 0.85:
                out.append(Finding(st.name, iv.name, "warn", "balance",
                                   f"parallel {iv.name}: {iv.extent} iterations over {m.cores} cores "
                                   f"leave the last round part-empty ({eff:.0%} load balance)"))
    return out


def _reuse_findings(st, leaves, accs, loops, m: Machine) -> list:
    """A tensor re-read by every iteration of a loop (stride 0 along it) whose footprint inside
    that loop does not fit L2 is streamed again from L3 or DRAM on every iteration."""
    out, seen = [], set()
    l2 = m.cache_bytes[1]
    for d, iv in enumerate(leaves[:-1]):
        if iv.extent <= 1:
            continue
        for a in accs:
            if a.write or a.tensor in seen or a.strides[d] != 0:
                continue
            inner_fp = _footprint(a, leaves, d + 1)
            if inner_fp > l2:
                seen.add(a.tensor)
                out.append(Finding(st.name, iv.name, "warn", "reuse",
                                   f"every iteration of {iv.name} re-reads {fmt_bytes(inner_fp)} of "
                                   f"{a.tensor}, more than L2 ({fmt_bytes(l2)}): it streams from "
                                   f"{m.level_of(inner_fp)} {iv.extent} times; tile the loops inside "
                                   f"{iv.name} (split + reorder) so the reused block fits"))
    return out
