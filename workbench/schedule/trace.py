"""The schedule as data: every primitive applied is one frozen `Step` in `Schedule.trace`.

A trace replays on a fresh schedule of the same tensors, prints as a Python script that does the
same (`to_python`), and round-trips through JSON. Steps name stages and axes by their names, never by
object, so they survive process boundaries (tuning logs, exported scripts, undo/redo in the UI).
"""
from __future__ import annotations

import json
from dataclasses import dataclass


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
    def from_json(d: dict) -> "Step":
        return Step(d["primitive"], d["stage"], tuple(_tupled(a) for a in d["args"]),
                    tuple(sorted((k, _tupled(v)) for k, v in d["kwargs"].items())), tuple(d["outputs"]))

    def apply(self, s):
        target = s if self.stage is None else s[self.stage]
        args = [list(a) if isinstance(a, tuple) else a for a in self.args]
        return getattr(target, self.primitive)(*args, **dict(self.kwargs))


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
        return Trace(tuple(Step.from_json(d) for d in json.loads(text)))

    def replay(self, s):
        """Apply every step to schedule `s` (a fresh one); returns `s`."""
        for step in self.steps:
            step.apply(s)
        return s

    def __str__(self):
        return self.to_python()
