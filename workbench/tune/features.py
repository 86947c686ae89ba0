"""Features of a config for the cost model, fixed length, cached per config by the caller.

"itervar" (AutoTVM's default): loop-context features of the lowered loop IR, taken straight from
schedule_to_ir (before simplification drops unit loops, before unroll/vectorize rewrite them), so
every loop the schedule made is visible; strides are those of the row-major flat index that
storage_flatten would build, computed without building it. One row per loop (at most MAX_LOOPS rows, zero-padded):
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
    """(buffer, index exprs) of every load/store in node (a statement or expression)."""
    t = type(node)
    if t is S.BufferStore:
        out.append((node.buffer, node.indices))
        _accesses(node.value, out)
        for i in node.indices:
            _accesses(i, out)
        return
    if t is E.BufferLoad:
        out.append((node.buffer, node.indices))
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


def _suffix_products(exts) -> list[int]:
    out = [1] * (len(exts) + 1)
    for d in range(len(exts) - 1, -1, -1):
        out[d] = out[d + 1] * exts[d]
    return out


def _row_major_strides(buf) -> list[int]:
    out, stride = [], 1
    for ext in reversed(buf.shape):
        out.append(stride)
        stride *= _const(ext) if not isinstance(ext, int) else ext
    return out[::-1]


def _flat_moves(buf, indices, path) -> list[int]:
    """|change of the row-major flat index| of an access when each loop of `path` goes from 0 to 1
    (all others 0): exactly what the storage-flattened index would give (flattening is a sum of
    index x stride, so the change is the strided sum of each index's change), without flattening,
    which cost a third of a feature extraction."""
    strides = [1] if len(indices) == 1 else _row_major_strides(buf)
    base = [_eval(i, {}) for i in indices]
    return [abs(sum(st * (_eval(i, {f.var: 1}) - b) for st, i, b in zip(strides, indices, base)))
            for f, _ in path]


def loop_features(body, cache_bytes=(32 * 1024, 1024 * 1024)) -> np.ndarray:
    """The 'itervar' feature vector of a lowered statement (multi-dimensional or storage-flattened
    indices: the same features); `cache_bytes`: the target's (L1, L2, ...) data cache sizes."""
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
    itemsize: dict = {}
    for path, acc in leaves:
        exts = [x for _, x in path]
        below = _suffix_products(exts)          # below[d]: iterations of path[d:] (1 past the end)
        moves = [(buf, _flat_moves(buf, idx, path)) for buf, idx in acc
                 if buf.name in slot and idx]
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
            bottomup[r] = bottomup.get(r, 0) + below[depth]
            for buf, move in moves:
                count = reuse = 1
                for x, m in zip(exts[depth:], move[depth:]):
                    if m:
                        count *= x
                    else:
                        reuse *= x
                size = itemsize.get(buf.dtype) or itemsize.setdefault(buf.dtype, np.dtype(buf.dtype).itemsize)
                touched = count * size
                c = 4 + len(_KINDS) + slot[buf.name] * _PER_BUF
                out[r, c:c + _PER_BUF] = np.maximum(out[r, c:c + _PER_BUF], (
                    math.log2(1 + move[depth]), math.log2(1 + count), math.log2(1 + reuse),
                    math.log2(1 + touched), min(touched / l1, 4.0), min(touched / l2, 4.0)))
    for r, v in topdown.items():
        out[r, 2] = math.log2(1 + v)
    for r, v in bottomup.items():
        out[r, 3] = math.log2(1 + v)
    return out.ravel()


def itervar_features(task, index: int) -> np.ndarray:
    """Instantiate config `index`, lower to the loop IR (unit loops kept) and featurize.
    An illegal config gets all zeros (the model learns it as a failure from its label)."""
    from workbench.lower import schedule_to_ir
    try:
        s, tensors = task.instantiate(index)
        func = schedule_to_ir(s, list(tensors), "main")
        return loop_features(func.body, task.target.cache_bytes)
    except Exception:
        return np.zeros(ITERVAR_LENGTH, np.float32)


def knob_features(task, index: int) -> np.ndarray:
    return task.space.knob_features(index)


def knob_itervar_features(task, index: int) -> np.ndarray:
    """Both: the knob values beside the loop features (AutoTVM appends the define_knob values to
    its itervar rows too), so a tree can split on a tile size directly or on what it does."""
    return np.concatenate([knob_features(task, index), itervar_features(task, index)])


EXTRACTORS = {"itervar": itervar_features, "knob": knob_features,
              "knob+itervar": knob_itervar_features}
