"""Blocked int8 GEMM on VTA: C = A . W^T with A (M, K), W (N, K) int8; C keeps the low 8 bits.

Tiles are counted in blocks: ``tm`` rows of BATCH, ``tn`` blocks of BLOCK_OUT, ``tk`` blocks of
BLOCK_IN.  One GEMM instruction covers a whole (tm, tn, tk) tile: loop k (outer) x m (inner)
around ``tn`` micro-ops, so consecutive issues write distinct accumulators.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from accel.vta import Runtime, isa
from .layout import gemm_reference, pack_matrix, unpack_matrix
from .pipeline import TokenProtocol


@dataclass(frozen=True)
class GemmTiles:
    tm: int
    tn: int
    tk: int


def _divisors(n: int) -> list:
    return [d for d in range(1, n + 1) if n % d == 0]


def fits(env, t: GemmTiles, nthreads: int) -> bool:
    return (t.tm * t.tk * nthreads <= env.INP_BUFF_DEPTH
            and t.tn * t.tk * nthreads <= env.WGT_BUFF_DEPTH
            and t.tm * t.tn * nthreads <= env.ACC_BUFF_DEPTH
            and (t.tk == 1 or t.tm * t.tn >= 3)        # two-deep hazard across k iterations
            and t.tm < 1 << 14 and t.tk < 1 << 14)


def choose_tiles(env, Mb: int, Kb: int, Nb: int, nthreads: int = 2) -> GemmTiles:
    """Tiles minimizing modelled DMA time (bytes over the bus plus a latency per transfer)."""
    best, best_cost = None, None
    for tm, tn, tk in itertools.product(_divisors(Mb), _divisors(Nb), _divisors(Kb)):
        t = GemmTiles(tm, tn, tk)
        if not fits(env, t, nthreads):
            continue
        chunks = (Mb // tm) * (Nb // tn) * (Kb // tk)
        beats = chunks * (tm * tk * env.INP_ELEM_BYTES + tn * tk * env.WGT_ELEM_BYTES) \
            / env.BUS_BYTES
        cost = beats + chunks * 2 * env.DRAM_LATENCY
        if best_cost is None or cost < best_cost:
            best, best_cost = t, cost
    if best is None:
        raise ValueError(f"gemm: no tiling of ({Mb}, {Kb}, {Nb}) blocks fits {env}")
    return best


def build(env, M: int, K: int, N: int, *, nthreads: int = 1, tiles: GemmTiles | None = None,
          a: np.ndarray | None = None, w: np.ndarray | None = None, rt: Runtime | None = None):
    """Record the program; returns ``(program, buffers)`` with buffers "A", "W", "C" packed."""
    B, BI, BO = env.BATCH, env.BLOCK_IN, env.BLOCK_OUT
    for name, n, blk in (("M", M, B), ("K", K, BI), ("N", N, BO)):
        if n % blk:
            raise ValueError(f"gemm: {name}={n} is not a multiple of {blk}")
    Mb, Kb, Nb = M // B, K // BI, N // BO
    t = tiles or choose_tiles(env, Mb, Kb, Nb, 2)
    if Mb % t.tm or Nb % t.tn or Kb % t.tk or not fits(env, t, nthreads):
        raise ValueError(f"gemm: tiles {t} do not divide ({Mb}, {Kb}, {Nb}) or do not fit "
                         f"{nthreads} thread(s) of buffers")
    rt = rt or Runtime(env)
    A = rt.alloc((Mb, Kb, B, BI), "int8", "A", None if a is None else pack_matrix(a, B, BI))
    W = rt.alloc((Nb, Kb, BO, BI), "int8", "W", None if w is None else pack_matrix(w, BO, BI))
    Cbuf = rt.alloc((Mb, Nb, B, BO), "int8", "C")
    tm, tn, tk = t.tm, t.tn, t.tk
    tiles_mn = [(mo, no) for mo in range(Mb // tm) for no in range(Nb // tn)]
    nk = Kb // tk
    proto = TokenProtocol(rt, nthreads, len(tiles_mn), len(tiles_mn) * nk)

    def reset_kernel(abase):
        def finit(k):
            k.uop_loop_begin(tm, tn, 0, 0)
            for n in range(tn):
                k.uop_push(0, 1, abase + n, 0, 0)
            k.uop_loop_end()
        return finit

    def gemm_kernel(abase, ibase, wbase):
        def finit(k):
            k.uop_loop_begin(tk, 0, 1, 1)          # k: reduction, same accumulators
            k.uop_loop_begin(tm, tn, tk, 0)        # m: next accumulator row
            for n in range(tn):
                k.uop_push(0, 0, abase + n, ibase, wbase + n * tk)
            k.uop_loop_end()
            k.uop_loop_end()
        return finit

    l = 0
    for tix, (mo, no) in enumerate(tiles_mn):
        aslot = tix % nthreads
        abase = aslot * tm * tn
        proto.begin_tile(tix)
        rt.push_gemm_op("gemm.reset", reset_kernel(abase), aslot)
        for ko in range(nk):
            slot = l % nthreads
            ibase, wbase = slot * tm * tk, slot * tn * tk
            proto.begin_load(l)
            rt.load_buffer_2d(A, (mo * tm) * Kb + ko * tk, tk, tm, Kb, 0, 0, 0, 0, ibase,
                              isa.MEM_INP)
            rt.load_buffer_2d(W, (no * tn) * Kb + ko * tk, tk, tn, Kb, 0, 0, 0, 0, wbase,
                              isa.MEM_WGT)
            proto.end_load(l)
            rt.push_gemm_op("gemm.tile", gemm_kernel(abase, ibase, wbase), (slot, aslot))
            proto.end_compute(l)
            l += 1
        proto.end_tile(tix)
        rt.store_buffer_2d(abase, isa.MEM_OUT, Cbuf, (mo * tm) * Nb + no * tn, tn, tm, Nb)
        proto.end_store(tix)
    return rt.flush(), {"A": A, "W": W, "C": Cbuf}


def run(env, a: np.ndarray, w: np.ndarray, *, nthreads: int = 1, tiles=None, simulator=None):
    """Build and simulate; returns ``(C (M, N) int8, SimResult)``."""
    from accel.vta import Simulator
    M, K = a.shape
    N = w.shape[0]
    prog, _ = build(env, M, K, N, nthreads=nthreads, tiles=tiles, a=a, w=w)
    result = (simulator or Simulator(env)).run(prog)
    return unpack_matrix(result.outputs["C"]), result


reference = gemm_reference
