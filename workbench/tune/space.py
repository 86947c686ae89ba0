"""Config spaces (AutoTVM's names): knobs, their entities, and mixed-radix config indices.

A template is a function `(cfg, *args) -> (schedule, tensors)`. It is called once with a
`ConfigSpace`, whose `define_*` calls record the knobs (and whose `cfg[name]` is each knob's first
entity, so the template still builds a schedule), and then once per measured config with a
`ConfigEntity`, whose `define_*` calls are no-ops and whose `cfg[name]` is the chosen entity.

Knob kinds, as in AutoTVM's logs: "sp" split, "re" reorder, "an" annotate, "ot" other (define_knob).
A config is an index in [0, len(space)): knob j's choice is (index // prod(dims[:j])) % dims[j], the
first knob being least significant. Sampling, enumeration and mutation work on indices and never
instantiate schedules; `multi_filter` constraints are checked per index (rejection), so a space of
10^9 configs costs nothing until it is walked.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..schedule import ScheduleError


class InstantiationError(ValueError):
    """A config that the template (or a knob's apply) rejects: the candidate is skipped with
    error code INSTANTIATION_ERROR, the tuning goes on."""


def _extent(axis) -> int:
    """The constant extent of an IterVar (or an int)."""
    if isinstance(axis, (int, np.integer)):
        return int(axis)
    dom = getattr(axis, "dom", None)
    ext = getattr(dom, "extent", None) if dom is not None else None
    if ext is None:
        ext = getattr(axis, "extent", None)
    value = getattr(ext, "value", ext)
    if not isinstance(value, (int, np.integer)):
        raise TypeError(f"define_split: axis {axis!r} has no constant extent")
    return int(value)


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _powers_of_two(n: int) -> list[int]:
    return [1 << i for i in range(n.bit_length()) if (1 << i) <= n]


# -- entities: one choice of one knob -------------------------------------------------------------
@dataclass(frozen=True)
class SplitEntity:
    """Split factors, outermost first; size[0] == -1 means 'whatever is left' (AutoTVM's form)."""
    size: tuple

    @property
    def val(self):
        return self.size

    def apply(self, s, op, axis):
        """Split `axis` of stage `op` (tensor or stage) successively; returns len(size) axes,
        outermost first."""
        stage = s[op] if not hasattr(op, "split") else op
        out = []
        for i in range(len(self.size) - 1):
            outer, axis = stage.split(axis, factor=int(np.prod(self.size[i + 1:])))
            out.append(outer)
        return out + [axis]

    def to_json(self):
        return list(self.size)


@dataclass(frozen=True)
class ReorderEntity:
    perm: tuple

    @property
    def val(self):
        return self.perm

    def apply(self, s, op, axes):
        stage = s[op] if not hasattr(op, "reorder") else op
        if len(axes) != len(self.perm):
            raise InstantiationError(f"reorder knob: {len(axes)} axes given, the knob permutes "
                                     f"{len(self.perm)}")
        ordered = [axes[i] for i in self.perm]
        stage.reorder(*ordered)
        return ordered

    def to_json(self):
        return list(self.perm)


ANNOTATIONS = ("none", "unroll", "vec")


@dataclass(frozen=True)
class AnnotateEntity:
    anns: tuple       # per axis: "none" | "unroll" | "vec"

    @property
    def val(self):
        return self.anns

    def apply(self, s, op, axes, axis_lens=None, max_unroll=None, vec_size=None):
        """Annotate `axes` of stage `op`; AutoTVM's checks: an unrolled axis longer than
        `max_unroll` and a vectorized axis whose length is not in `vec_size` are instantiation
        errors (not crashes)."""
        stage = s[op] if not hasattr(op, "unroll") else op
        for i, (ax, ann) in enumerate(zip(axes, self.anns)):
            n = axis_lens[i] if axis_lens is not None else None
            if ann == "unroll":
                if max_unroll is not None and n is not None and n > max_unroll:
                    raise InstantiationError(f"Too large factor for unrolling: {n} > {max_unroll}")
                stage.unroll(ax)
            elif ann == "vec":
                if vec_size is not None and n is not None and n not in vec_size:
                    raise InstantiationError(f"Wrong size of lanes in vectorization: {n} not in "
                                             f"{list(vec_size)}")
                stage.vectorize(ax)
        return list(axes)

    def to_json(self):
        return list(self.anns)


@dataclass(frozen=True)
class OtherOptionEntity:
    val: object

    def to_json(self):
        return self.val


# -- knobs: the list of a knob's entities ---------------------------------------------------------
class Knob:
    kind = "ot"

    def __init__(self, name: str, entities: list):
        if not entities:
            raise ValueError(f"knob {name!r} has no candidates (its filter rejected every value)")
        self.name = name
        self.entities = list(entities)

    def __len__(self):
        return len(self.entities)

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, {len(self)} choices)"

    def index_of(self, value) -> int:
        for i, e in enumerate(self.entities):
            if e.to_json() == value or e.val == value:
                return i
        raise ValueError(f"knob {self.name!r} has no entity {value!r}")

    def features(self, i: int) -> list[float]:
        """Numeric encoding of entity i for the 'knob' feature type."""
        return [float(i)]


class SplitKnob(Knob):
    kind = "sp"
    POLICIES = ("factors", "power2", "verbose", "candidate")

    def __init__(self, name, extent, num_outputs=2, policy="factors", max_factor=None,
                 filter=None, candidate=None, no_tail=False):
        if policy not in self.POLICIES:
            raise ValueError(f"define_split {name!r}: policy must be one of {self.POLICIES}, "
                             f"got {policy!r}")
        if num_outputs < 1:
            raise ValueError(f"define_split {name!r}: num_outputs must be >= 1, got {num_outputs}")
        self.extent = extent
        cap = max_factor if max_factor is not None else extent
        if policy == "candidate":
            if not candidate:
                raise ValueError(f"define_split {name!r}: policy 'candidate' needs candidate=[...]")
            sizes = [tuple(int(x) for x in c) for c in candidate]
            for c in sizes:
                if len(c) != num_outputs:
                    raise ValueError(f"define_split {name!r}: candidate {list(c)} has {len(c)} "
                                     f"factors, num_outputs is {num_outputs}")
        else:
            if policy == "factors":
                choices = _divisors(extent)
            elif policy == "power2":
                choices = _powers_of_two(extent)
            else:
                choices = sorted(set(_divisors(extent)) | set(_powers_of_two(extent)))
            exact = policy == "factors" or no_tail
            choices = [c for c in choices if c <= cap]
            sizes = []
            for inner in itertools.product(choices, repeat=num_outputs - 1):
                prod = int(np.prod(inner)) if inner else 1
                if prod > extent or (exact and extent % prod):
                    continue
                sizes.append((-1,) + tuple(inner))
        if filter is not None:
            sizes = [c for c in sizes if filter(SplitEntity(c))]
        super().__init__(name, [SplitEntity(c) for c in sizes])

    def features(self, i):
        size = self.entities[i].size
        inner = int(np.prod(size[1:])) if len(size) > 1 else 1
        first = -(-self.extent // inner) if size[0] == -1 else size[0]
        return [math.log2(first)] + [math.log2(x) for x in size[1:]]


class ReorderKnob(Knob):
    kind = "re"
    POLICIES = ("identity", "all", "interval_all", "candidate")

    def __init__(self, name, axes, policy="all", candidate=None, interval=None):
        n = len(axes)
        if policy == "identity":
            perms = [tuple(range(n))]
        elif policy == "all":
            if n > 8:
                raise ValueError(f"define_reorder {name!r}: 'all' over {n} axes is {math.factorial(n)} "
                                 "orders; use 'interval_all' or 'candidate'")
            perms = list(itertools.permutations(range(n)))
        elif policy == "interval_all":
            lo, hi = interval or (0, n)
            perms = [tuple(range(lo)) + p + tuple(range(hi, n))
                     for p in itertools.permutations(range(lo, hi))]
        elif policy == "candidate":
            pos = {id(a): i for i, a in enumerate(axes)}
            perms = []
            for c in candidate or ():
                try:
                    perms.append(tuple(pos[id(a)] if not isinstance(a, int) else a for a in c))
                except KeyError:
                    raise ValueError(f"define_reorder {name!r}: a candidate names an axis not in "
                                     "the knob's axes") from None
        else:
            raise ValueError(f"define_reorder {name!r}: policy must be one of {self.POLICIES}, "
                             f"got {policy!r}")
        super().__init__(name, [ReorderEntity(p) for p in perms])

    def features(self, i):
        return [float(x) for x in self.entities[i].perm]


class AnnotateKnob(Knob):
    kind = "an"
    POLICIES = ("try_unroll", "try_vec", "try_unroll_vec", "candidate")

    def __init__(self, name, axes, policy="try_unroll_vec", candidate=None):
        n = len(axes)
        if policy == "try_unroll":
            per_axis = [("none", "unroll")] * n
        elif policy == "try_vec":
            per_axis = [("none",)] * (n - 1) + [("none", "vec")]
        elif policy == "try_unroll_vec":
            per_axis = [("none", "unroll")] * (n - 1) + [("none", "unroll", "vec")]
        elif policy == "candidate":
            per_axis = None
        else:
            raise ValueError(f"define_annotate {name!r}: policy must be one of {self.POLICIES}, "
                             f"got {policy!r}")
        if per_axis is None:
            anns = [tuple(c) for c in candidate or ()]
            for c in anns:
                if len(c) != n or any(a not in ANNOTATIONS for a in c):
                    raise ValueError(f"define_annotate {name!r}: candidate {list(c)} must give one "
                                     f"of {ANNOTATIONS} per axis ({n} axes)")
        else:
            anns = list(itertools.product(*per_axis)) if n else [()]
        super().__init__(name, [AnnotateEntity(a) for a in anns])

    def features(self, i):
        return [float(ANNOTATIONS.index(a)) for a in self.entities[i].anns]


class OtherKnob(Knob):
    kind = "ot"

    def __init__(self, name, candidates):
        super().__init__(name, [OtherOptionEntity(v) for v in candidates])

    def features(self, i):
        v = self.entities[i].val
        if isinstance(v, (bool, int, float, np.integer, np.floating)):
            return [float(v)]
        return [float(i)]


# -- the space and one point in it ----------------------------------------------------------------
class _Defines:
    """The define_* API, shared by the space (records knobs) and a config (no-ops)."""

    def define_split(self, name, axis, policy="factors", num_outputs=2, max_factor=None,
                     filter=None, candidate=None, no_tail=False):
        return self._define(name, lambda: SplitKnob(name, _extent(axis), num_outputs, policy,
                                                    max_factor, filter, candidate, no_tail))

    def define_reorder(self, name, axes, policy="all", candidate=None, interval=None):
        return self._define(name, lambda: ReorderKnob(name, list(axes), policy, candidate, interval))

    def define_annotate(self, name, axes, policy="try_unroll_vec", candidate=None):
        return self._define(name, lambda: AnnotateKnob(name, list(axes), policy, candidate))

    def define_knob(self, name, candidates):
        return self._define(name, lambda: OtherKnob(name, list(candidates)))

    def add_flop(self, flop):
        self.flop += float(flop)

    def raise_error(self, msg):
        raise InstantiationError(msg)


class ConfigSpace(_Defines):
    """The knobs a template defines, in definition order. `len(space)` counts every combination;
    `is_valid(i)` applies the multi_filter constraints."""

    def __init__(self):
        self.knobs: dict[str, Knob] = {}
        self.filters: list = []
        self.flop = 0.0
        self._dims: list[int] = []

    def _define(self, name, make):
        if name in self.knobs:
            raise ValueError(f"knob {name!r} is defined twice")
        knob = make()
        self.knobs[name] = knob
        self._dims.append(len(knob))
        return knob

    def multi_filter(self, filter):
        """A constraint across knobs: `filter(config) -> bool`, checked for every index visited."""
        self.filters.append(filter)

    def __getitem__(self, name):
        return self.knobs[name].entities[0]

    def __len__(self):
        return int(np.prod(self._dims, dtype=object)) if self._dims else 1

    @property
    def dims(self) -> list[int]:
        return list(self._dims)

    def point2knob(self, index: int) -> list[int]:
        out = []
        for d in self._dims:
            out.append(index % d)
            index //= d
        return out

    def knob2point(self, knob_indices) -> int:
        index, mul = 0, 1
        for k, d in zip(knob_indices, self._dims):
            index += int(k) * mul
            mul *= d
        return index

    def get(self, index: int) -> "ConfigEntity":
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"config index {index} out of range [0, {len(self)})")
        return ConfigEntity(self, index)

    def from_values(self, values: dict) -> "ConfigEntity":
        """The config whose knobs take these values (JSON form, e.g. {"tile_i": [-1, 4]})."""
        missing = set(self.knobs) - set(values)
        if missing:
            raise ValueError(f"config is missing knobs {sorted(missing)}")
        return self.get(self.knob2point([k.index_of(values[n]) for n, k in self.knobs.items()]))

    def is_valid(self, index: int) -> bool:
        if not self.filters:
            return True
        cfg = self.get(index)
        return all(f(cfg) for f in self.filters)

    def sample(self, rng: np.random.Generator, n: int, exclude=(), max_tries: int = 100) -> list[int]:
        """Up to n distinct valid indices not in `exclude`, uniformly at random."""
        total, out, seen = len(self), [], set(exclude)
        if total - len(seen) <= 4 * n and total <= 1 << 22:   # nearly exhausted: enumerate instead
            rest = [i for i in range(total) if i not in seen and self.is_valid(i)]
            rng.shuffle(rest)
            return rest[:n]
        tries = 0
        while len(out) < n and tries < max_tries * n:
            tries += 1
            i = int(rng.integers(total)) if total < 1 << 62 else self._big_random(rng)
            if i not in seen and self.is_valid(i):
                seen.add(i)
                out.append(i)
        return out

    def _big_random(self, rng) -> int:
        return self.knob2point([int(rng.integers(d)) for d in self._dims])

    def enumerate(self, start: int = 0):
        """Valid indices in order from `start`."""
        for i in range(start, len(self)):
            if self.is_valid(i):
                yield i

    def random_walk(self, index: int, rng: np.random.Generator) -> int:
        """A neighbour: one random knob (with more than one choice) takes another value."""
        ks = self.point2knob(index)
        movable = [j for j, d in enumerate(self._dims) if d > 1]
        if not movable:
            return index
        j = movable[int(rng.integers(len(movable)))]
        new = int(rng.integers(self._dims[j] - 1))
        ks[j] = new if new < ks[j] else new + 1
        return self.knob2point(ks)

    def knob_features(self, index: int) -> np.ndarray:
        ks = self.point2knob(index)
        return np.array([x for (k, i) in zip(self.knobs.values(), ks) for x in k.features(i)],
                        dtype=np.float32)

    def __repr__(self):
        lines = [f"ConfigSpace ({len(self)} configs)"]
        for k in self.knobs.values():
            lines.append(f"  {k.name} [{k.kind}] {len(k)} choices, e.g. {k.entities[0].to_json()}")
        return "\n".join(lines)


class ConfigEntity(_Defines):
    """One point of a space: `cfg[name]` is the chosen entity (`.val`, `.apply(...)`)."""

    def __init__(self, space: ConfigSpace, index: int):
        self.space = space
        self.index = int(index)
        self.flop = 0.0
        self._choice = dict(zip(space.knobs, space.point2knob(self.index)))

    def _define(self, name, make):
        if name not in self.space.knobs:
            raise InstantiationError(f"knob {name!r} is not in the space (the template defines "
                                     "knobs conditionally?)")
        return self.space.knobs[name]

    def multi_filter(self, filter):
        pass

    def __getitem__(self, name):
        try:
            knob = self.space.knobs[name]
        except KeyError:
            raise KeyError(f"no knob named {name!r}; knobs: {list(self.space.knobs)}") from None
        return knob.entities[self._choice[name]]

    def values(self) -> dict:
        """Knob name -> JSON value of the chosen entity."""
        return {n: self[n].to_json() for n in self.space.knobs}

    def to_json(self) -> dict:
        return {"index": self.index,
                "entity": [[n, k.kind, self[n].to_json()] for n, k in self.space.knobs.items()]}

    def __repr__(self):
        return f"ConfigEntity({self.index}, {self.values()})"

    def __eq__(self, other):
        return isinstance(other, ConfigEntity) and other.index == self.index and \
            other.space is self.space

    def __hash__(self):
        return hash(self.index)


def guarded(fn, *args, **kwargs):
    """Run a template step; a ScheduleError (an illegal primitive a config asked for) becomes an
    InstantiationError naming the cause."""
    try:
        return fn(*args, **kwargs)
    except ScheduleError as e:
        raise InstantiationError(str(e)) from e
