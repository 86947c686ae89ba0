"""Features of a config for the cost model, fixed length, cached per config by the caller.

"itervar" (AutoTVM's default): loop-context features of the lowered loop IR, taken right after
storage_flatten (before simplification drops unit loops, before unroll/vectorize rewrite them), so
every loop the schedule made is visible. One row per loop (at most MAX_LOOPS rows, zero-padded):
the loop nests at the top level ordered by the work they do (most first), each nest's loops in
order of first appearance, so the hot nest holds the same rows whether or not a config adds copy
stages (a packed input, a padded copy) before it:
    log2(1+extent), nesting level, log2(1+top-down product), log2(1+bottom-up product),
    one-hot kind (serial, parallel, vectorized, unrolled),
    per buffer slot (buffers in order of first access, at most MAX_BUFFERS): log2(1+|stride|) of this loop's
    variable in the flat index, log2(1+count), log2(1+reuse), log2(1+touched bytes), and
    touched bytes / (L1, L2) cache size (capped at 4).
"knob": the knobs' values (split sizes as log2, permutations, annotations, option values).
"""
from __future__ import annotations

import math
import numpy as np

from workbench.ir import expr as E
from workbench.ir import stmt as S

MAX_LOOPS = 20
MAX_BUFFERS = 6
_KINDS = ("serial", "parallel", "vectorized", "unrolled")
_PER_BUF = 6
ROW = 4 + len(_KINDS) + MAX_BUFFERS * _PER_BUF
ITERVAR_LENGTH = MAX_LOOPS * ROW


def _eval(e, env):
    """Integer value of an index expression with loop variables bound in env (others 0)."""
    t = type(e)
    if t is E.Const:
        return e.value
    if t is E.Var:
        return env.get(e, 0)
    if t is E.Add:
        return _eval(e.a, env) + _eval(e.b, env)
    if t is E.Sub:
        return _eval(e.a, env) - _eval(e.b, env)
    if t is E.Mul:
        return _eval(e.a, env) * _eval(e.b, env)
    if t is E.FloorDiv:
        b = _eval(e.b, env)
        return _eval(e.a, env) // b if b else 0
    if t is E.FloorMod:
        b = _eval(e.b, env)
        return _eval(e.a, env) % b if b else 0
    if t is E.Min:
        return min(_eval(e.a, env), _eval(e.b, env))
    if t is E.Max:
        return max(_eval(e.a, env), _eval(e.b, env))
    if t is E.Cast:
        return _eval(e.value, env)
    if t is E.Select:
        return _eval(e.t, env) if _eval(e.cond, env) else _eval(e.f, env)
    if isinstance(e, E.CmpOp):
        a, b = _eval(e.a, env), _eval(e.b, env)
        return {E.LT: a < b, E.LE: a <= b, E.GT: a > b, E.GE: a >= b, E.NE: a != b,
                E.EQ: a == b}.get(t, 0)
    return 0


def _accesses(node, out):
    """(buffer, flat index expr) of every load/store in node (a statement or expression)."""
    t = type(node)
    if t is S.BufferStore:
        out.append((node.buffer, node.indices[0] if len(node.indices) == 1 else None))
        _accesses(node.value, out)
        for i in node.indices:
            _accesses(i, out)
        return
    if t is E.BufferLoad:
        out.append((node.buffer, node.indices[0] if len(node.indices) == 1 else None))
    if isinstance(node, (E.Expr, S.Stmt)) and hasattr(node, "__dataclass_fields__"):
        for name in node.__dataclass_fields__:
            if name in ("buffer", "dtype", "name", "kind", "annotations"):
                continue
            v = getattr(node, name)
            if isinstance(v, (E.Expr, S.Stmt)):
                _accesses(v, out)
            elif isinstance(v, tuple):
                for x in v:
                    if isinstance(x, (E.Expr, S.Stmt)):
                        _accesses(x, out)


def _const(e) -> int:
    return int(e.value) if type(e) is E.Const else 1


def _hot_nests_first(loops, leaves):
    """`loops` and `leaves` regrouped by top-level nest, the nests in decreasing order of work
    (iterations of their innermost statements), stably."""
    def root(path, fallback):
        return id(path[0][0]) if path else fallback
    work: dict = {}
    root_of: dict = {}
    for n, (path, _) in enumerate(leaves):
        r = root(path, -1 - n)
        work[r] = work.get(r, 0) + int(np.prod([x for _, x in path]))
        for f, _ in path:
            root_of.setdefault(id(f), r)
    rank = {r: n for n, r in enumerate(sorted(work, key=lambda r: -work[r]))}    # stable sort

    def key(r):
        return rank.get(r, len(rank))
    loops = sorted(loops, key=lambda f: key(root_of.get(id(f), id(f))))
    leaves = sorted(leaves, key=lambda lf: key(root(lf[0], None)))
    return loops, leaves


def loop_features(body, cache_bytes=(32 * 1024, 1024 * 1024)) -> np.ndarray:
    """The 'itervar' feature vector of a lowered (storage-flattened) statement; `cache_bytes`:
    the target's (L1, L2, ...) data cache sizes."""
    leaves = []          # (loop path [(For, extent)], accesses) per innermost statement
    loops: list = []     # For nodes in order of first appearance

    def visit(n, path):
        t = type(n)
        if t is S.For:
            loops.append(n)
            visit(n.body, path + [(n, _const(n.extent))])
        elif t is S.SeqStmt:
            for x in n.stmts:
                visit(x, path)
        elif t is S.IfThenElse:
            visit(n.then_case, path)
            if n.else_case is not None:
                visit(n.else_case, path)
        elif t is S.Allocate:
            visit(n.body, path)
        elif t is S.BufferStore:
            acc = []
            _accesses(n, acc)
            leaves.append((path, acc))
        elif hasattr(n, "body") and isinstance(getattr(n, "body"), S.Stmt):
            visit(n.body, path)
    visit(body, [])
    loops, leaves = _hot_nests_first(loops, leaves)
    # slots in order of first access, hot nest first: B and a packed copy of B read in its place
    # share a slot
    buffers = list(dict.fromkeys(b.name for _, acc in leaves for b, _ in acc))[:MAX_BUFFERS]
    slot = {name: i for i, name in enumerate(buffers)}
    l1, l2 = int(cache_bytes[0]), int(cache_bytes[1])
    out = np.zeros((MAX_LOOPS, ROW), np.float32)
    pos = {id(f): i for i, f in enumerate(loops[:MAX_LOOPS])}
    topdown: dict = {}
    bottomup: dict = {}
    for path, acc in leaves:
        prod = 1
        for depth, (f, ext) in enumerate(path):
            prod *= ext
            if id(f) not in pos:
                continue
            r = pos[id(f)]
            topdown[r] = prod
            out[r, 0] = math.log2(1 + ext)
            out[r, 1] = depth
            out[r, 4 + (_KINDS.index(f.kind) if f.kind in _KINDS else 0)] = 1
            inner = path[depth:]
            bottomup[r] = bottomup.get(r, 0) + int(np.prod([x for _, x in inner]))
            for buf, idx in acc:
                if buf.name not in slot or idx is None:
                    continue
                strides = [abs(_eval(idx, {g.var: 1}) - _eval(idx, {})) for g, _ in inner]
                count = int(np.prod([x for (g, x), st in zip(inner, strides) if st]))
                reuse = int(np.prod([x for (g, x), st in zip(inner, strides) if not st]))
                touched = count * np.dtype(buf.dtype).itemsize
                c = 4 + len(_KINDS) + slot[buf.name] * _PER_BUF
                out[r, c:c + _PER_BUF] = np.maximum(out[r, c:c + _PER_BUF], (
                    math.log2(1 + strides[0]), math.log2(1 + count), math.log2(1 + reuse),
                    math.log2(1 + touched), min(touched / l1, 4.0), min(touched / l2, 4.0)))
    for r, v in topdown.items():
        out[r, 2] = math.log2(1 + v)
    for r, v in bottomup.items():
        out[r, 3] = math.log2(1 + v)
    return out.ravel()


def itervar_features(task, index: int) -> np.ndarray:
    """Instantiate config `index`, lower up to storage_flatten (unit loops kept) and featurize.
    An illegal config gets all zeros (the model learns it as a failure from its label)."""
    from workbench.lower import schedule_to_ir
    from workbench.lower.flatten import storage_flatten
    try:
        s, tensors = task.instantiate(index)
        func = schedule_to_ir(s, list(tensors), "main")
        return loop_features(storage_flatten(func.body), task.target.cache_bytes)
    except Exception:
        return np.zeros(ITERVAR_LENGTH, np.float32)


def knob_features(task, index: int) -> np.ndarray:
    return task.space.knob_features(index)


EXTRACTORS = {"itervar": itervar_features, "knob": knob_features}
