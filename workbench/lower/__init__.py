"""Lowering: bound inference, schedule -> loop IR, then the pass pipeline (lower/passes.py) under a
PassContext (lower/pass_manager.py)."""
from __future__ import annotations

from dataclasses import replace

from ..ir.stmt import PrimFunc
from .pass_manager import PHASES, Pass, PassContext, Phase, Pipeline, stmt_pass
from .passes import DEFAULT_PIPELINE, PASS_NAMES
from .schedule_ops import schedule_to_ir

# what `lower` uses when no ctx is given; tests/conftest.py swaps in one with verify=True
DEFAULT_CONTEXT = PassContext()


def lower(sch, args, name: str = "main", *, stop_after: str | None = None, ctx: PassContext | None = None,
          pipeline: Pipeline | None = None, **options) -> PrimFunc:
    """Lower schedule `sch` to a PrimFunc taking `args` (tensors, in call order).

    `ctx` (a PassContext) or keyword options (keep_trivial_loops=, bounds_checks=, unroll_limit=,
    verify=, ...) configure the passes; `stop_after` names the last pass to run; `pipeline` replaces
    the default one (e.g. a backend's, from Pipeline.default().with_passes(...)).
    `func.history` holds the body after schedule_ops and after every pass; `func.after(name)`
    prints one of them."""
    ctx = ctx if ctx is not None else DEFAULT_CONTEXT
    if options:
        try:
            ctx = replace(ctx, **options)
        except TypeError:
            known = [f for f in PassContext.__dataclass_fields__]
            bad = [k for k in options if k not in known]
            raise TypeError(f"unknown lowering option(s) {bad}; PassContext has {known}") from None
    pipeline = pipeline if pipeline is not None else DEFAULT_PIPELINE
    func = schedule_to_ir(sch, list(args), name)      # its loop_stage: loop variable -> stage name
    return pipeline.run(func, ctx, stop_after)


__all__ = ["lower", "PassContext", "Pipeline", "Pass", "Phase", "PHASES", "DEFAULT_PIPELINE", "PASS_NAMES",
           "schedule_to_ir", "stmt_pass"]
