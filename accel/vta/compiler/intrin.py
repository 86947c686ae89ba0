"""VTA's names in the schedule language: SRAM scopes and the GEMM tensor intrinsic.

The three SRAMs are registered with the schedule's scope registry (capacities of the default
configuration, accel/configs/default.json; ``vta.build`` checks buffers against the capacities
of the Env it compiles for).  ``env.gemm`` describes the 1 x BLOCK_IN x BLOCK_OUT matrix
multiply a GEMM micro-op performs; ``s[C].tensorize(b_tns, env.gemm)`` marks the loops it covers.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from workbench import te
from workbench.schedule.scopes import register_scope

from ..env import CONFIG_DIR, Env

_DOCS = {"inp": "VTA input SRAM (int8 BATCH x BLOCK_IN elements)",
         "wgt": "VTA weight SRAM (int8 BLOCK_OUT x BLOCK_IN elements)",
         "acc": "VTA accumulator register file (int32 BATCH x BLOCK_OUT elements)"}


@functools.lru_cache(maxsize=1)
def register_scopes() -> tuple:
    """Register local.inp_buffer / local.wgt_buffer / local.acc_buffer (idempotent)."""
    default = Env.from_json(CONFIG_DIR / "default.json")
    out = []
    for key in ("inp", "wgt", "acc"):
        scope = getattr(default, f"{key}_scope")
        out.append(register_scope(scope, default.scope_capacity(scope),
                                  _DOCS[key] + "; capacity of the default configuration"))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class GemmIntrin:
    """The GEMM micro-op as a tensor computation: out[b, o] += inp[b, i] * wgt[o, i]."""
    env: Env
    compute: te.Tensor   # the te description a tensorized sub-nest must match
    name: str = "vta.gemm"

    @property
    def shape(self) -> tuple:
        """(BATCH, BLOCK_OUT, BLOCK_IN): extents of the three loops the intrinsic covers."""
        return (self.env.BATCH, self.env.BLOCK_OUT, self.env.BLOCK_IN)

    def __repr__(self):
        b, o, i = self.shape
        return f"TensorIntrin({self.name}: ({b}x{i}) . ({o}x{i})^T, int8 -> int32)"


@functools.lru_cache(maxsize=16)
def gemm_intrin(env: Env) -> GemmIntrin:
    inp = te.placeholder((env.BATCH, env.BLOCK_IN), env.inp_dtype, name="inp")
    wgt = te.placeholder((env.BLOCK_OUT, env.BLOCK_IN), env.wgt_dtype, name="wgt")
    k = te.reduce_axis((0, env.BLOCK_IN), name="k")
    out = te.compute((env.BATCH, env.BLOCK_OUT), lambda b, o: te.sum(
        inp[b, k].astype(env.acc_dtype) * wgt[o, k].astype(env.acc_dtype), axis=k), name="out")
    return GemmIntrin(env, out)
