"""The schedule as data: every primitive applied is one frozen `Step` in `Schedule.trace`.

A trace replays on a fresh schedule of the same tensors, prints as a Python script that does the
same (`to_python`), and round-trips through JSON. Steps name stages and axes by their names, never by
object, so they survive process boundaries (tuning logs, exported scripts, undo/redo in the UI).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from numbers import Integral


@dataclass(frozen=True)
class Step:
    primitive: str           # "split", "reorder", "cache_read", ...
    stage: str | None        # stage name, None for schedule-level primitives (cache_read/cache_write)
    args: tuple = ()         # axis names, stage names, tensor names, ints, strings
    kwargs: tuple = ()       # sorted (name, value) pairs
    outputs: tuple = ()      # names of what the primitive created (axes, stages)

    def to_python(self) -> str:
        parts = [repr(list(a) if isinstance(a, tuple) else a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.kwargs]
        target = "s" if self.stage is None else f"s[{self.stage!r}]"
        line = f"{target}.{self.primitive}({', '.join(parts)})"
        return line + (f"  # -> {', '.join(self.outputs)}" if self.outputs else "")

    def to_json(self) -> dict:
        return {"primitive": self.primitive, "stage": self.stage, "args": list(map(_jsonable, self.args)),
                "kwargs": {k: _jsonable(v) for k, v in self.kwargs}, "outputs": list(self.outputs)}

    @staticmethod
    def from_json(d: dict, where: str = "trace step") -> "Step":
        if not isinstance(d, dict) or not {"primitive", "stage", "args"} <= set(d) or \
                not isinstance(d["args"], list) or not isinstance(d.get("kwargs", {}), dict) or \
                not isinstance(d.get("outputs", []), list):
            raise TraceError(f"{where}: expected an object with primitive, stage, args (a list), kwargs (an "
                             f"object) and outputs (a list), got {d!r}")
        step = Step(d["primitive"], d["stage"], tuple(_tupled(a) for a in d["args"]),
                    tuple(sorted((k, _tupled(v)) for k, v in d.get("kwargs", {}).items())),
                    tuple(d.get("outputs", [])))
        return step.validate(where)

    def validate(self, where: str = "trace step") -> "Step":
        """Check the step against PRIMITIVES (name, target, argument kinds); raise TraceError."""
        def bad(reason):
            return TraceError(f"{where} ({self.primitive!r}): {reason}")
        spec = PRIMITIVES.get(self.primitive) if isinstance(self.primitive, str) else None
        if spec is None:
            raise bad(f"unknown primitive; known: {', '.join(sorted(PRIMITIVES))}")
        level, pos, var, kw = spec
        if level == "stage" and not isinstance(self.stage, str):
            raise bad(f"needs the name of a stage, got stage={self.stage!r}")
        if level == "schedule" and self.stage is not None:
            raise bad(f"is a schedule-level primitive (s.{self.primitive}), got stage={self.stage!r}")
        args = self.args
        need = sum(1 for k in pos if not k.endswith("?"))
        if not isinstance(args, tuple) or len(args) < need or (var is None and len(args) > len(pos)):
            count = f"{need}{' or more' if var else ''}" if need == len(pos) else f"{need} to {len(pos)}"
            raise bad(f"takes {count} arguments, got {len(args) if isinstance(args, tuple) else args!r}")
        for n, a in enumerate(args):
            kind = (pos[n] if n < len(pos) else var).rstrip("?")
            if not _is_kind(a, kind):
                raise bad(f"argument {n} must be {_KIND_DOC[kind]}, got {a!r}")
        if not isinstance(self.kwargs, tuple):
            raise bad(f"malformed keyword arguments {self.kwargs!r}")
        for item in self.kwargs:
            if not (isinstance(item, tuple) and len(item) == 2 and item[0] in kw):
                raise bad(f"unexpected keyword argument {item!r}; allowed: {', '.join(kw) or 'none'}")
            if not _is_kind(item[1], kw[item[0]]):
                raise bad(f"keyword {item[0]} must be {_KIND_DOC[kw[item[0]]]}, got {item[1]!r}")
        if not (isinstance(self.outputs, tuple) and all(isinstance(o, str) for o in self.outputs)):
            raise bad(f"outputs must be names, got {self.outputs!r}")
        return self

    def apply(self, s, where: str = "trace step"):
        """Apply this step to schedule `s` after validating it; only primitives in PRIMITIVES run."""
        self.validate(where)
        try:
            target = s if self.stage is None else s[self.stage]
        except KeyError as e:
            raise TraceError(f"{where} ({self.primitive!r}): no stage {self.stage!r} in this schedule "
                             f"({e.args[0] if e.args else ''})") from None
        args = [list(a) if isinstance(a, tuple) else a for a in self.args]
        return getattr(target, self.primitive)(*args, **dict(self.kwargs))


class TraceError(ValueError):
    """A trace (from JSON, a log or a file) that is not a valid list of schedule primitives."""


# primitive -> (level, positional argument kinds ("kind?" = may be left out), kind of further
# *args or None, {keyword: kind})
PRIMITIVES = {
    "split": ("stage", ("name",), None, {"factor": "int", "nparts": "int"}),
    "tile": ("stage", ("name", "name", "int", "int"), None, {}),
    "fuse": ("stage", ("name", "name"), "name", {}),
    "reorder": ("stage", ("name",), "name", {}),
    "vectorize": ("stage", ("name",), None, {}),
    "unroll": ("stage", ("name",), None, {}),
    "parallel": ("stage", ("name",), None, {}),
    "pragma": ("stage", ("name", "name", "int?"), None, {}),     # backend pragmas take no value
    "compute_at": ("stage", ("name", "name"), None, {}),
    "compute_inline": ("stage", (), None, {}),
    "compute_root": ("stage", (), None, {}),
    "set_scope": ("stage", ("name",), None, {}),
    "bind": ("stage", ("name", "name"), None, {"extent": "int"}),
    "tensorize": ("stage", ("name", "name"), None, {}),
    "cache_read": ("schedule", ("name", "name", "names"), None, {}),
    "cache_write": ("schedule", ("name", "name"), None, {}),
    "rfactor": ("schedule", ("name", "name"), None, {"factor_axis": "int"}),
}
_KIND_DOC = {"name": "a name (str)", "int": "an int", "names": "a list of names"}


def _is_kind(v, kind) -> bool:
    if kind == "name":
        return isinstance(v, str)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, tuple) and all(isinstance(x, str) for x in v)


def normalize_arg(v):
    """Plain Python values for a trace: numpy integers (np.int64(4)) become int, lists tuples."""
    if isinstance(v, (list, tuple)):
        return tuple(normalize_arg(x) for x in v)
    if isinstance(v, bool):
        return v
    if isinstance(v, Integral):
        return int(v)
    if isinstance(v, str):
        return str(v)
    return v


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def _tupled(v):
    return tuple(v) if isinstance(v, list) else v


@dataclass(frozen=True)
class Trace:
    steps: tuple = ()

    def __len__(self):
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, i):
        return Trace(self.steps[i]) if isinstance(i, slice) else self.steps[i]

    def append(self, step: Step) -> "Trace":
        return Trace(self.steps + (step,))

    def to_python(self) -> str:
        """A script that, with `s` a fresh schedule of the same outputs, applies the same primitives."""
        body = [step.to_python() for step in self.steps] or ["pass"]
        return "\n".join(body) + "\n"

    def to_json(self) -> str:
        return json.dumps([st.to_json() for st in self.steps])

    @staticmethod
    def from_json(text: str) -> "Trace":
        """A trace from JSON text; every step is validated (TraceError names the first bad one)."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as e:
            raise TraceError(f"trace is not valid JSON: {e}") from None
        if not isinstance(data, list):
            raise TraceError(f"a trace is a JSON list of steps, got {type(data).__name__}")
        return Trace(tuple(Step.from_json(d, f"trace step {n}") for n, d in enumerate(data)))

    def replay(self, s):
        """Apply every step to schedule `s` (a fresh one); returns `s`."""
        for n, step in enumerate(self.steps):
            step.apply(s, f"trace step {n}")
        return s

    def __str__(self):
        return self.to_python()
