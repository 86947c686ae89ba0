"""Bound inference: the loop extents of every stage and, for a stage computed at another stage's
loop, the region of its tensor that one iteration of that loop needs.

A region is (min expression, constant extent) per dimension. The min may depend on the consumer's
outer loop variables (so consecutive iterations may need overlapping regions, as a 3x3 convolution
does); the extent is constant so the buffer can be allocated once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import expr as E
from ..ir.simplify import bounds, from_linear, linear, simplify_expr
from ..ir.visitor import substitute, walk
from ..schedule.stage import Split


@dataclass
class StageBounds:
    root_min: dict = field(default_factory=dict)     # root IterVar -> Expr (region start)
    ext: dict = field(default_factory=dict)          # IterVar (root and derived) -> int
    offset: dict = field(default_factory=dict)       # IterVar -> Expr in leaf vars (0-based)
    guards: list = field(default_factory=list)       # (kind, cond) from non-dividing splits
    domain_guard: bool = False                       # region may stick out of the domain


def propagate(stage, sb: StageBounds):
    """Leaf extents from root extents, root offsets from leaf variables, split guards."""
    for r in stage.relations:
        if isinstance(r, Split):
            pe = sb.ext[r.parent]
            if r.factor is not None:
                inner = min(r.factor, pe)
                outer = -(-pe // inner)
            else:
                outer = min(r.nparts, pe)
                inner = -(-pe // outer)
            sb.ext[r.outer], sb.ext[r.inner] = outer, inner
        else:
            sb.ext[r.fused] = sb.ext[r.outer] * sb.ext[r.inner]
    for iv in stage.leaf_iter_vars:
        sb.offset[iv] = iv.var
    for r in reversed(stage.relations):
        if isinstance(r, Split):
            inner_e = sb.ext[r.inner]
            sb.offset[r.parent] = simplify_expr(sb.offset[r.outer] * inner_e + sb.offset[r.inner])
            if sb.ext[r.outer] * inner_e > sb.ext[r.parent]:
                sb.guards.append((r.parent.kind, sb.offset[r.parent] < sb.ext[r.parent]))
        else:
            ie = sb.ext[r.inner]
            sb.offset[r.outer] = sb.offset[r.fused] // ie
            sb.offset[r.inner] = sb.offset[r.fused] % ie
    return sb


def root_values(stage, sb: StageBounds) -> dict:
    """Root variable -> its value in terms of leaf variables (region min + offset)."""
    return {iv.var: simplify_expr(sb.root_min[iv] + sb.offset[iv]) for iv in stage.root_iter_vars}


def reads_of(body, stage_of, target) -> list:
    out = []
    def fn(n):
        if type(n) is E.TensorRead and stage_of(n.tensor) is target:
            out.append(n.indices)
    walk(body, fn)
    return out


def infer_region(producer, consumer, consumer_body, cb: StageBounds, stage_of) -> tuple[list, bool]:
    """Region of `producer` needed by one iteration of consumer's loop at producer.attach_ivar.

    Returns ([(min_expr, extent)] per dimension, may_exceed_domain)."""
    shape = producer.op.output(0).shape
    leaves = consumer.leaf_iter_vars
    # a consumer other than the attach stage is computed at the same loop: all its loops vary
    pos = leaves.index(producer.attach_ivar) if producer.attach_stage is consumer else -1
    relaxed = {iv.var: (0, cb.ext[iv] - 1) for iv in leaves[pos + 1:]}
    values = root_values(consumer, cb)
    domain = {iv.var: (iv.min, iv.min + iv.extent - 1) for iv in consumer.root_iter_vars}
    accesses = reads_of(consumer_body, stage_of, producer)
    region, exceeds = [], False
    for d, dim_ext in enumerate(shape):
        cand = [_interval(simplify_expr(substitute(idx[d], values)), relaxed) for idx in accesses]
        merged = _union(cand) if cand and all(c is not None for c in cand) else None
        if merged is None:
            # not linear in the relaxed loops: a constant box from the consumer's whole domain
            bs = [bounds(idx[d], domain) for idx in accesses]
            if not bs or any(b is None for b in bs):
                region.append((E.const(0), dim_ext))
                continue
            merged = (E.const(min(b[0] for b in bs)), max(b[1] for b in bs) - min(b[0] for b in bs) + 1)
        lo, ext = merged
        if type(lo) is E.Const:
            a, b = max(lo.value, 0), min(lo.value + ext - 1, dim_ext - 1)
            lo, ext = E.const(a), max(b - a + 1, 1)
        elif ext >= dim_ext:
            lo, ext = E.const(0), dim_ext
        else:
            exceeds = True
        region.append((lo, ext))
    return region, exceeds


def _interval(e, relaxed):
    """(min expression, constant extent) of e while the `relaxed` loop variables range over their
    extents and every other variable stays fixed; None when that is not a box of constant size."""
    lin = linear(e)
    if lin is None:
        return None
    terms, const = lin
    fixed, lo_terms, width = {}, [], 0
    lo = const
    for atom, c in terms.items():
        if type(atom) is E.Var and atom in relaxed:
            a, b = relaxed[atom]
            lo += min(c * a, c * b)
            width += abs(c) * (b - a)
        elif any(v in relaxed for v in _vars(atom)):
            sub = _divmod_interval(atom, relaxed)
            if sub is None:
                return None
            slo, sw = sub
            # c * [slo, slo + sw - 1]
            lo_terms.append(slo * c if c > 0 else (slo + (sw - 1)) * c)
            width += abs(c) * (sw - 1)
        else:
            fixed[atom] = c
    out = from_linear(fixed, lo)
    for t in lo_terms:
        out = out + t
    return simplify_expr(out), width + 1


def _divmod_interval(atom, relaxed):
    """Intervals through // and % by a constant (what a split of a fused or packed axis reads)."""
    if type(atom) not in (E.FloorDiv, E.FloorMod) or type(atom.b) is not E.Const or atom.b.value <= 0:
        return None
    c = atom.b.value
    inner = _interval(atom.a, relaxed)
    if inner is None:
        return None
    lo, w = inner
    lin = linear(lo)
    if lin is None or any(k % c for k in lin[0].values()):
        return None
    q_terms = {a: k // c for a, k in lin[0].items()}
    q0, r0 = divmod(lin[1], c)
    if type(atom) is E.FloorDiv:
        return from_linear(q_terms, q0), (r0 + w - 1) // c + 1
    if r0 + w <= c:
        return E.const(r0), w
    return E.const(0), c


def _vars(e):
    out = []
    walk(e, lambda n: out.append(n) if type(n) is E.Var else None)
    return out


def _union(cands):
    lo0, _ = cands[0]
    lo_off, hi_off = 0, None
    spans = []
    for lo, ext in cands:
        d = linear(simplify_expr(lo - lo0))
        if d is None or d[0]:
            return None            # starts differ by a non-constant: give up on a symbolic box
        spans.append((d[1], d[1] + ext - 1))
    lo_off = min(a for a, _ in spans)
    hi_off = max(b for _, b in spans)
    return simplify_expr(lo0 + lo_off), hi_off - lo_off + 1
