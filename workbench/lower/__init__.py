"""Lowering: bound inference, schedule -> loop IR, then the ordered pass list in passes.PASSES."""
from __future__ import annotations

from ..ir.stmt import PrimFunc
from .passes import PASSES
from .schedule_ops import schedule_to_ir


def lower(sch, args, name: str = "main", passes=PASSES) -> PrimFunc:
    """Lower schedule `sch` to a PrimFunc taking `args` (tensors, in call order).

    `func.history` holds the body after schedule_ops and after every pass; `func.after(name)`
    prints one of them."""
    func = schedule_to_ir(sch, list(args), name)
    body = func.body
    history = [("schedule_ops", body)]
    for pass_name, fn in passes:
        body = fn(body)
        history.append((pass_name, body))
    return PrimFunc(func.name, func.params, body, tuple(history))


__all__ = ["lower", "PASSES", "schedule_to_ir"]
