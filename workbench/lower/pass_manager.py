"""The pass manager: passes are `(PrimFunc, PassContext) -> PrimFunc`, run in the order of a
Pipeline, which is one named list with named PHASES where a backend adds its own passes.

A backend extends a pipeline explicitly (nothing is registered globally at import):

    from workbench.lower import Pipeline, PassContext

    def inject_dma(func, ctx):              # a pass: PrimFunc -> PrimFunc
        return dataclasses.replace(func, body=rewrite(func.body))

    vta_pipeline = Pipeline.default().with_passes("before_flatten", [("inject_dma", inject_dma)])
    func = wb.lower(s, args, pipeline=vta_pipeline, ctx=PassContext(target=env))

Phases, in order: "schedule" (the nest straight from the schedule), "before_flatten" (accesses
still multi-dimensional), "after_flatten" (flat indices, before vectorizing) and "before_codegen"
(the final IR). Passes added at one phase run in the order given, after any added there before.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from ..ir.stmt import PrimFunc
from ..ir.verify import verify

PHASES = ("schedule", "before_flatten", "after_flatten", "before_codegen")


@dataclass(frozen=True)
class PassContext:
    """Options every pass sees. `target` is opaque here (a wb.Target, a VTA Env, or None)."""
    target: Any = None
    keep_trivial_loops: bool = False   # keep extent-1 loops (the tuner's feature extractor needs them)
    bounds_checks: bool = True         # run-time index checks where bounds cannot be proven
    unroll_limit: int = 4096           # statements one unroll may write out (see lower/unroll.py)
    auto_unroll_max_step: int = 0      # unroll small loop nests everywhere (0: only where a pragma asks)
    verify: bool = False               # check well-formedness after every pass (the tests turn it on)
    warnings: bool = True              # emit wb.ScheduleWarning for primitives lowering cannot honour

    def __post_init__(self):
        if not isinstance(self.unroll_limit, int) or self.unroll_limit < 1:
            raise ValueError(f"PassContext.unroll_limit must be a positive int, got {self.unroll_limit!r}")


@dataclass(frozen=True)
class Pass:
    name: str
    fn: Callable          # (PrimFunc, PassContext) -> PrimFunc
    added: bool = False   # added at a phase by with_passes (not a built-in pass)


@dataclass(frozen=True)
class Phase:
    """A named point in the pipeline where backends insert passes."""
    name: str


@dataclass(frozen=True)
class Pipeline:
    steps: tuple   # of Pass and Phase, in order

    @staticmethod
    def default() -> "Pipeline":
        from .passes import DEFAULT_PIPELINE
        return DEFAULT_PIPELINE

    @property
    def pass_names(self) -> tuple:
        return ("schedule_ops",) + tuple(s.name for s in self.steps if isinstance(s, Pass))

    def with_passes(self, phase: str, passes) -> "Pipeline":
        """A new pipeline with `passes` ((name, fn) pairs or Pass objects) run at `phase`."""
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; phases are {', '.join(PHASES)}")
        new = []
        for p in passes:
            p = replace(p, added=True) if isinstance(p, Pass) else Pass(*p, added=True)
            if not callable(p.fn):
                raise TypeError(f"pass {p.name!r} is not callable")
            if p.name in self.pass_names or any(p.name == q.name for q in new):
                raise ValueError(f"a pass named {p.name!r} is already in the pipeline")
            new.append(p)
        steps = list(self.steps)
        at = next(k for k, s in enumerate(steps) if isinstance(s, Phase) and s.name == phase)
        # after the passes already added at this phase, before the next built-in pass
        end = at + 1
        while end < len(steps) and isinstance(steps[end], Pass) and steps[end].added:
            end += 1
        return Pipeline(tuple(steps[:end]) + tuple(new) + tuple(steps[end:]))

    def run(self, func: PrimFunc, ctx: PassContext, stop_after: str | None = None) -> PrimFunc:
        if stop_after is not None and stop_after not in self.pass_names:
            raise ValueError(f"stop_after={stop_after!r} names no pass; passes are "
                             f"{', '.join(self.pass_names)}")
        history = [("schedule_ops", func.body)]
        if ctx.verify:
            verify(func, "schedule_ops")
        if stop_after == "schedule_ops":
            return replace(func, history=tuple(history))
        for step in self.steps:
            if isinstance(step, Phase):
                continue
            try:
                out = step.fn(func, ctx)
            except Exception as e:
                _prefix(e, step.name)
                raise
            if not isinstance(out, PrimFunc):
                raise TypeError(f"pass {step.name!r} returned {type(out).__name__}, not a PrimFunc")
            history.append((step.name, out.body))
            func = replace(out, history=tuple(history))
            if ctx.verify:
                verify(func, f"pass {step.name!r}")
            if step.name == stop_after:
                break
        return replace(func, history=tuple(history))


def _prefix(e: Exception, name: str):
    """Say which pass raised: in the message (when it is a plain string) and as a note."""
    tag = f"lowering pass {name!r}: "
    if e.args and isinstance(e.args[0], str) and not e.args[0].startswith("lowering pass "):
        e.args = (tag + e.args[0],) + tuple(e.args[1:])
    e.add_note(f"(raised in lowering pass {name!r})")


def stmt_pass(fn) -> Callable:
    """Adapt a `Stmt -> Stmt` function to a pass."""
    def run(func: PrimFunc, ctx: PassContext) -> PrimFunc:
        return replace(func, body=fn(func.body))
    run.__name__ = getattr(fn, "__name__", "stmt_pass")
    return run
