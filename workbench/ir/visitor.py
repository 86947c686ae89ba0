"""The IR traversal core: child fields per node class, iterative walks, and one visitor and one
mutator base with a loop-context stack.

Depth matters differently for the two kinds of nodes. Statements nest as deep as the loop nest
(tens of levels), so `StmtVisitor`/`StmtMutator` recurse over statements, which keeps passes
readable. Expressions nest as deep as the user wrote them (a `te.sum` of 400 added terms is 400
levels), so every expression traversal here (`walk`, `post_order`, `fold`, `substitute`) runs on
an explicit stack and never hits Python's recursion limit.

Children of a node are the fields named by its class's `__children__` (tuple-valued fields hold
several children); a node class without one falls back to its dataclass fields minus known
non-child fields, so a node added elsewhere still traverses.
"""
from __future__ import annotations

from dataclasses import fields, replace
from functools import lru_cache

from . import expr as E
from . import stmt as S

_NODE = (E.Expr, S.Stmt)
_LEAVES = (E.Var, E.Const)
_NOT_CHILD = ("dtype", "name", "combiner", "kind", "buffer", "tensor", "annotations", "notes", "axis",
              "message", "lanes", "stride")


@lru_cache(maxsize=None)
def _all_fields(cls) -> tuple:
    return tuple(f.name for f in fields(cls))


@lru_cache(maxsize=None)
def child_fields(cls) -> tuple:
    """Names of the fields of `cls` that hold child nodes (or tuples of them)."""
    explicit = cls.__dict__.get("__children__")
    if explicit is None:
        for base in cls.__mro__[1:]:
            explicit = base.__dict__.get("__children__")
            if explicit is not None:
                break
    if explicit is not None:
        return tuple(explicit)
    if not hasattr(cls, "__dataclass_fields__"):
        return ()
    return tuple(f.name for f in fields(cls) if f.name not in _NOT_CHILD)


def _field_kinds(cls) -> list:
    """(name, kind) per child field: "node" (always a node), "opt" (a node or something else, e.g.
    None) or "tuple" (a tuple whose node items are children), from the dataclass annotations."""
    types = {f.name: str(f.type) for f in fields(cls)} if hasattr(cls, "__dataclass_fields__") else {}
    out = []
    for name in child_fields(cls):
        ty = types.get(name, "Any")
        kind = "tuple" if "tuple" in ty else ("opt" if ("None" in ty or "Any" in ty) else "node")
        out.append((name, kind))
    return out


_GETTERS: dict = {}
_BUILDERS: dict = {}


def _make_getter(cls):
    kinds = _field_kinds(cls)
    if not kinds:
        return lambda n: ()
    if all(k == "node" for _, k in kinds):
        names = [nm for nm, _ in kinds]
        if len(names) == 1:
            a = names[0]
            return lambda n: (getattr(n, a),)
        if len(names) == 2:
            a, b = names
            return lambda n: (getattr(n, a), getattr(n, b))
        return lambda n: tuple(getattr(n, nm) for nm in names)

    def get(n):
        out = []
        for name, kind in kinds:
            v = getattr(n, name)
            if kind == "tuple":
                if isinstance(v, tuple):
                    out.extend(x for x in v if isinstance(x, _NODE))
                elif isinstance(v, _NODE):
                    out.append(v)
            elif kind == "node" or isinstance(v, _NODE):
                out.append(v)
        return out
    return get


def children(node):
    """The direct child nodes of `node`, in field order (tuple fields flattened)."""
    return (_GETTERS.get(type(node)) or _getter(type(node)))(node)


def _rebuild(node, changes: dict):
    if not changes:
        return node
    cls = type(node)
    kw = {name: changes[name] if name in changes else getattr(node, name) for name in _all_fields(cls)}
    return cls(**kw)


def map_children(node, fn):
    """Apply fn to each direct child node; rebuild only if a child changed."""
    if type(node) in _LEAVES or not hasattr(node, "__dataclass_fields__"):
        return node
    changes = {}
    for name in child_fields(type(node)):
        v = getattr(node, name)
        if isinstance(v, _NODE):
            nv = fn(v)
        elif isinstance(v, tuple):
            new = tuple(fn(x) if isinstance(x, _NODE) else x for x in v)
            nv = v if all(a is b for a, b in zip(new, v)) else new
        else:
            continue
        if nv is not v:
            changes[name] = nv
    return _rebuild(node, changes)


def _make_builder(cls):
    kinds = _field_kinds(cls)
    all_names = _all_fields(cls)
    if all(k == "node" for _, k in kinds) and tuple(nm for nm, _ in kinds) == all_names:
        return lambda n, new: cls(*new)          # every field is a child, in order (BinOp, ...)

    def build(n, new):
        it = iter(new)
        changes = {}
        for name, kind in kinds:
            v = getattr(n, name)
            if kind == "tuple" and isinstance(v, tuple):
                changes[name] = tuple(next(it) if isinstance(x, _NODE) else x for x in v)
            elif isinstance(v, _NODE):
                changes[name] = next(it)
        return _rebuild(n, changes)
    return build


def _builder(cls):
    """`(node, new children) -> node` for `cls`, made once per node class."""
    f = _BUILDERS.get(cls)
    if f is None:
        f = _BUILDERS[cls] = _make_builder(cls)
    return f


def _getter(cls):
    """The child getter of `cls`, made once per node class (non-node values have no children)."""
    g = _make_getter(cls)
    if issubclass(cls, _NODE):
        _GETTERS[cls] = g
    return g


# The loops below are the hot path of lowering (hundreds of thousands of nodes per second), so
# they look up a class's child getter inline and mark "rebuild n" with a (n, kids) tuple on the
# same stack (IR nodes are never tuples), rather than calling `children()` per node.
def fold(node, fn, skip=None):
    """Bottom-up evaluation without recursion: fn(n, [results of n's children]) -> result of n.
    `skip(n)` may return a result for n without visiting its children (or None to descend)."""
    getters = _GETTERS
    results: list = []
    stack: list = [node]
    pop, push = stack.pop, stack.append
    while stack:
        n = pop()
        if type(n) is tuple:
            n, kids = n
            k = len(kids)
            vals = results[-k:]
            del results[-k:]
            results.append(fn(n, vals))
            continue
        if skip is not None:
            r = skip(n)
            if r is not None:
                results.append(r)
                continue
        g = getters.get(type(n)) or _getter(type(n))
        kids = g(n)
        if kids:
            push((n, kids))
            stack.extend(reversed(kids))
        else:
            results.append(fn(n, []))
    return results[0]


def post_order(node, fn, memo: dict | None = None):
    """Rebuild bottom-up: fn(new_node) is called on each node after its children were rebuilt;
    fn returns a replacement or None to keep the node. Iterative: any depth works.
    `memo` (id(node) -> (node, result)), kept by the caller across calls, reuses the result of a
    subtree object met before: unrolled copies share the subtrees that do not use the unrolled
    variable, and fn must then give the same result wherever the subtree appears."""
    getters = _GETTERS
    results: list = []
    stack: list = [node]
    pop, push, emit = stack.pop, stack.append, results.append
    while stack:
        n = pop()
        if type(n) is tuple:
            n, kids = n
            orig = n
            k = len(kids)
            new = results[-k:]
            del results[-k:]
            for a, b in zip(new, kids):
                if a is not b:
                    n = _builder(type(n))(n, new)
                    break
            r = fn(n)
            r = n if r is None else r
            if memo is not None:
                memo[id(orig)] = (orig, r)
            emit(r)
            continue
        g = getters.get(type(n)) or _getter(type(n))
        kids = g(n)
        if kids:
            if memo is not None:
                hit = memo.get(id(n))
                if hit is not None and hit[0] is n:
                    emit(hit[1])
                    continue
            push((n, kids))
            stack.extend(reversed(kids))
            continue
        r = fn(n)
        emit(n if r is None else r)
    return results[0]


def walk(node, fn):
    """Call fn on every node, pre-order. Iterative."""
    getters = _GETTERS
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        n = pop()
        t = type(n)
        if t is tuple:
            extend(reversed(n))
            continue
        g = getters.get(t)
        if g is None:
            if not isinstance(n, _NODE):
                continue
            g = _getter(t)
        fn(n)
        kids = g(n)
        if kids:
            extend(reversed(kids))


def find(node, pred):
    """The first node (pre-order) for which pred is true, or None; stops at the first hit."""
    getters = _GETTERS
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        n = pop()
        if pred(n):
            return n
        kids = (getters.get(type(n)) or _getter(type(n)))(n)
        if kids:
            extend(reversed(kids))
    return None


def contains(node, pred) -> bool:
    """Does the subtree hold a node for which pred is true?"""
    return find(node, pred) is not None


def find_all(node, pred) -> list:
    out = []
    walk(node, lambda n: out.append(n) if pred(n) else None)
    return out


def substitute_each(node, var, values) -> list:
    """[substitute(node, {var: v}) for v in values] in one traversal: a subtree that does not use
    `var` is visited once and shared by all the copies (unrolling writes a body out this way)."""
    k = len(values)

    def fn(n, kids):
        if n is var:
            return list(values)
        if not any(type(r) is list for r in kids):
            return n
        f = _builder(type(n))
        return [f(n, [r[i] if type(r) is list else r for r in kids]) for i in range(k)]
    out = fold(node, fn)
    return out if type(out) is list else [out] * k


def substitute(node, vmap: dict):
    """Replace variables by expressions (vmap keys are Var objects)."""
    if not vmap:
        return node
    def fn(n):
        return vmap.get(n) if type(n) is E.Var else None
    return post_order(node, fn)


def free_vars(node) -> set:
    """Every Var used in `node` (loop variables included)."""
    out = set()
    walk(node, lambda n: out.add(n) if type(n) is E.Var else None)
    return out


def uses_var(node, var) -> bool:
    return contains(node, lambda n: n is var)


# ------------------------------------------------------------------------------------------------
# statement visitor / mutator with a loop-context stack
class StmtVisitor:
    """Read-only statement traversal. Override `visit_<Node>` for the statements you care about
    (call `self.generic(s)` to descend) and `visit_expr(e)` for expressions. `self.loops` holds the
    enclosing For nodes, outermost first; `enter_loop`/`exit_loop` are hooks for trackers."""

    def __init__(self):
        self.loops: list = []

    def __call__(self, s):
        self.visit(s)
        return self

    def visit(self, s):
        m = getattr(self, "visit_" + type(s).__name__, None)
        return m(s) if m is not None else self.generic(s)

    def generic(self, s):
        if type(s) is S.For:
            self.visit_expr(s.min)
            self.visit_expr(s.extent)
            self.enter_loop(s)
            try:
                self.visit(s.body)
            finally:
                self.exit_loop(s)
            return
        for c in children(s):
            if isinstance(c, S.Stmt):
                self.visit(c)
            else:
                self.visit_expr(c)

    def visit_expr(self, e):
        pass

    def enter_loop(self, f: S.For):
        self.loops.append(f)

    def exit_loop(self, f: S.For):
        self.loops.pop()


class StmtMutator:
    """Rebuilding statement traversal, same shape as StmtVisitor: `visit_<Node>` returns the new
    statement, `generic(s)` rebuilds s from its mutated children (only if one changed), and
    `mutate_expr(e)` rewrites expressions (default: unchanged; override `rewrite_expr(e)` to get an
    iterative post-order rewrite where returning None keeps a node)."""

    def __init__(self):
        self.loops: list = []

    def __call__(self, s):
        return self.visit(s)

    def visit(self, s):
        m = getattr(self, "visit_" + type(s).__name__, None)
        return m(s) if m is not None else self.generic(s)

    def generic(self, s):
        if type(s) is S.For:
            lo, ext = self.mutate_expr(s.min), self.mutate_expr(s.extent)
            self.enter_loop(s)
            try:
                body = self.visit(s.body)
            finally:
                self.exit_loop(s)
            if lo is s.min and ext is s.extent and body is s.body:
                return s
            return replace(s, min=lo, extent=ext, body=body)
        if type(s) is S.SeqStmt:
            new = [self.visit(x) for x in s.stmts]
            return s if all(a is b for a, b in zip(new, s.stmts)) else S.seq(*new)
        return map_children(s, lambda c: self.visit(c) if isinstance(c, S.Stmt) else self.mutate_expr(c))

    def mutate_expr(self, e):
        if type(self).rewrite_expr is StmtMutator.rewrite_expr:
            return e
        return post_order(e, self.rewrite_expr)

    def rewrite_expr(self, e):
        return None

    def enter_loop(self, f: S.For):
        self.loops.append(f)

    def exit_loop(self, f: S.For):
        self.loops.pop()


def loop_range(f: S.For, ranges: dict):
    """Inclusive (lo, hi) of f's variable given the ranges of the enclosing loops, or None."""
    lo, ext = f.min, f.extent
    if type(lo) is E.Const and type(ext) is E.Const:
        return (lo.value, lo.value + ext.value - 1)
    from .simplify import bounds
    blo, bext = bounds(lo, ranges), bounds(ext, ranges)
    if blo is None or bext is None:
        return None
    return (blo[0], blo[1] + bext[1] - 1)


class LoopRanges:
    """Mixin for a StmtVisitor/StmtMutator: `self.ranges` maps each enclosing loop's variable to
    its inclusive integer range while the loop's body is visited (what range analysis needs)."""

    def __init__(self, ranges: dict | None = None):
        super().__init__()
        self.ranges: dict = dict(ranges or {})
        self._saved: list = []

    def enter_loop(self, f):
        super().enter_loop(f)
        self._saved.append(self.ranges.get(f.var))
        r = loop_range(f, self.ranges)
        if r is None:
            self.ranges.pop(f.var, None)
        else:
            self.ranges[f.var] = r

    def exit_loop(self, f):
        old = self._saved.pop()
        if old is None:
            self.ranges.pop(f.var, None)
        else:
            self.ranges[f.var] = old
        super().exit_loop(f)


def map_stmts(s, fn):
    """Rebuild statements bottom-up: fn(new_stmt) returns a replacement or None (expressions are
    left alone). The statement analogue of post_order."""
    class _M(StmtMutator):
        def visit(self, n):
            n2 = self.generic(n)
            r = fn(n2)
            return n2 if r is None else r
    return _M().visit(s)
