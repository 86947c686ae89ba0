"""Compile cache: a structurally equal schedule is not lowered or compiled twice (UI undo/redo,
a tuner revisiting a configuration, a notebook cell run again).

The key is computed *before* lowering (lowering alone costs ~10 ms; a hit must cost well under 2):
  - the compute definitions of every stage's operation, canonically (`fingerprint`: node types,
    dtypes, constants, variable names, shapes, which operation each tensor read refers to),
  - the schedule's trace (every primitive applied, with its arguments),
  - the argument signature (which operations, in call order), the target, the function name and
    the build options.
Anything the fingerprint cannot describe (an object it does not know) makes the build uncached
rather than risking a wrong hit. The cache holds `codegen.CompiledModule`s in a bounded LRU; a hit
wraps the module in a fresh `Kernel` (its own thread count).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import fields, is_dataclass

from ..ir import expr as E
from ..te.tensor import Operation, Tensor


class _Uncacheable(Exception):
    pass


class CompileCache:
    """A bounded LRU of compiled modules keyed by `fingerprint(...)`. `hits`/`misses` count lookups."""

    def __init__(self, capacity: int = 128):
        if capacity < 1:
            raise ValueError(f"CompileCache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key):
        with self._lock:
            module = self._items.get(key)
            if module is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return module

    def put(self, key, module) -> None:
        with self._lock:
            self._items[key] = module
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        return f"<CompileCache {len(self)}/{self.capacity} modules, {self.hits} hits, {self.misses} misses>"


_default = CompileCache()


def default_cache() -> CompileCache:
    """The process's compile cache, used by `wb.build` unless given `cache=` (None: no caching)."""
    return _default


# -- the key ---------------------------------------------------------------------------------------
_FIELDS: dict = {}
_ATOMS = (int, float, str, bool, type(None))


def _field_names(cls) -> tuple:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return names


class _Canon:
    """Canonical tuples for te operations and expressions: equal for structurally equal definitions
    built separately (fresh Var/Tensor objects), different otherwise."""

    def __init__(self, sch):
        self.sch = sch
        # id(operation) -> its index among the schedule's stages
        self.ops = {id(st.op): i for i, st in enumerate(sch.stages)}
        self.stage_index = {id(st): i for i, st in enumerate(sch.stages)}
        self.vars: dict = {}            # id(Var) -> first-seen index

    def tensor_index(self, tensor) -> int:
        """The stage computing `tensor` (a stage may have replaced the tensor's own operation, as
        cache_write does: the schedule maps the original tensor to it)."""
        idx = self.ops.get(id(tensor.op))
        if idx is None:
            try:
                idx = self.stage_index.get(id(self.sch[tensor]))
            except (KeyError, TypeError, ValueError):
                idx = None
        if idx is None:
            raise _Uncacheable(f"tensor {tensor.name!r} of an operation outside the schedule")
        return idx

    def __call__(self, root) -> tuple:
        """A flat pre-order encoding of `root` (each node as its kind and child count, then its
        children): unambiguous, and iterative, so expression depth does not matter."""
        out: list = []
        stack = [root]
        while stack:
            x = stack.pop()
            t = type(x)
            if t in _ATOMS:
                out.append(x if t is not float else ("f", repr(x)))
            elif t is tuple or t is list:
                out.append(("()", len(x)))
                stack.extend(reversed(x))
            elif t is E.Var:
                out.append(("V", self.vars.setdefault(id(x), len(self.vars)), x.name, x.dtype))
            elif t is Tensor:       # by the stage computing it (each operation is keyed once)
                out.append(("T", self.tensor_index(x), x.name, x.dtype))
            elif isinstance(x, Operation):
                raise _Uncacheable(f"operation {x.name!r} referenced from an expression")
            elif is_dataclass(t):
                names = [f for f in _field_names(t) if not f.startswith("_")]
                out.append((t.__name__, len(names)))
                stack.extend(getattr(x, f) for f in reversed(names))
            else:
                raise _Uncacheable(f"cannot fingerprint a {t.__name__}")
        return tuple(out)


def fingerprint(sch, args, target, name: str, options: tuple = ()):
    """The cache key of building `sch` with `args` for `target`, or None if it cannot be keyed."""
    try:
        canon = _Canon(sch)
        op_keys = tuple((type(st.op).__name__, st.op.name, canon(_op_fields(st.op))) for st in sch.stages)
        arg_keys = []
        for a in args:
            if type(a) is not Tensor:
                return None               # lowering will explain what is wrong with this argument
            arg_keys.append((canon.tensor_index(a), a.name, tuple(a.shape), a.dtype))
        key = (op_keys, sch.trace.steps, tuple(arg_keys), str(target), name, options)
        hash(key)                         # a trace argument that cannot be hashed: no caching
        return key
    except (_Uncacheable, TypeError, AttributeError, RecursionError):
        # RecursionError: a very deep expression (a te.sum of hundreds of terms) is built uncached
        return None


def _op_fields(op):
    if is_dataclass(type(op)):
        return tuple(getattr(op, f) for f in _field_names(type(op)) if not f.startswith("_"))
    raise _Uncacheable(f"cannot fingerprint operation {op!r}")
