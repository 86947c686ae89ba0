"""Packed conv2d on VTA with a fused shift + clip epilogue (TVM's conv2d_packed schedule).

Data NCHW{B}n{BI}c, weights OIHW{BO}o{BI}i, output NCHW{B}n{BO}c int8.  A tile is
``tco`` output-channel blocks x ``th`` output rows x ``tw`` output columns; the reduction runs
over chunks of ``tci`` input-channel blocks.  Per chunk: one 2-D padded DMA per input-channel
block (spatial padding is DMA padding), one weight DMA, one GEMM.  Per tile: a reset GEMM,
then SHR (requantize), MIN and MAX (clip) on the accumulators, then one store.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from accel.vta import Runtime, isa
from .layout import conv2d_reference, pack_nchw, pack_oihw, unpack_nchw
from .pipeline import TokenProtocol
from .workloads import Conv2DWorkload


@dataclass(frozen=True)
class ConvTiles:
    tco: int
    th: int
    tw: int
    tci: int


def _divisors(n: int) -> list:
    return [d for d in range(1, n + 1) if n % d == 0]


def _geometry(wl: Conv2DWorkload, t: ConvTiles):
    rows = (t.th - 1) * wl.stride + wl.kernel   # input rows a tile reads (with halo)
    cols = (t.tw - 1) * wl.stride + wl.kernel
    return rows, cols


def uop_budget(wl: Conv2DWorkload, t: ConvTiles, nthreads: int) -> int:
    kk = wl.kernel * wl.kernel
    # GEMM kernels exist per (input slot, acc slot); reset + 3 ALU kernels per acc slot
    return nthreads * nthreads * t.tci * kk * t.tw + nthreads * 4 * t.tw


def fits(env, wl: Conv2DWorkload, t: ConvTiles, nthreads: int) -> bool:
    rows, cols = _geometry(wl, t)
    kk = wl.kernel * wl.kernel
    return (t.tw >= 3                                   # two-deep hazard: 3 distinct dst
            and t.tci * rows * cols * nthreads <= env.INP_BUFF_DEPTH
            and t.tco * t.tci * kk * nthreads <= env.WGT_BUFF_DEPTH
            and t.tco * t.th * t.tw * nthreads <= env.ACC_BUFF_DEPTH
            and uop_budget(wl, t, nthreads) <= env.UOP_BUFF_DEPTH
            and wl.pad <= 15)


def estimate_cycles(env, wl: Conv2DWorkload, t: ConvTiles, nthreads: int) -> float:
    """A quick analytic model used only to pick tiles (the simulator gives the real figure)."""
    rows, cols = _geometry(wl, t)
    kk = wl.kernel * wl.kernel
    bus, lat = env.BUS_BYTES, env.DRAM_LATENCY
    load = t.tci * (lat + rows * -(-min(cols, wl.width) * env.INP_ELEM_BYTES // bus) + rows) \
        + lat + t.tco * -(-t.tci * kk * env.WGT_ELEM_BYTES // bus)
    gemm = t.tco * t.th * t.tw * t.tci * kk
    chunks = (wl.in_filter // env.BLOCK_IN) // t.tci
    tiles = ((wl.out_filter // env.BLOCK_OUT) // t.tco * (wl.out_height // t.th)
             * (wl.out_width // t.tw) * (wl.batch // env.BATCH))
    epilogue = t.tco * t.th * t.tw * (1 + 3 * env.ALU_II)
    per_chunk = max(load, gemm) if nthreads == 2 else load + gemm
    return tiles * (chunks * per_chunk + epilogue)


def choose_tiles(env, wl: Conv2DWorkload, nthreads: int = 2) -> ConvTiles:
    cob, cib = wl.out_filter // env.BLOCK_OUT, wl.in_filter // env.BLOCK_IN
    cands = [ConvTiles(*c) for c in itertools.product(
        _divisors(cob), _divisors(wl.out_height), _divisors(wl.out_width), _divisors(cib))]
    cands = [t for t in cands if fits(env, wl, t, nthreads)]
    if not cands:
        raise ValueError(f"conv2d {wl.name}: no tiling fits the buffers of {env}")
    return min(cands, key=lambda t: (estimate_cycles(env, wl, t, nthreads), -t.tco * t.th * t.tw))


def build(env, wl: Conv2DWorkload, *, nthreads: int = 1, tiles: ConvTiles | None = None,
          shift: int = 8, clip=(0, 127), data: np.ndarray | None = None,
          kernel: np.ndarray | None = None, rt: Runtime | None = None,
          bias: np.ndarray | None = None):
    """Record the program; returns ``(program, buffers)`` with "data", "kernel", "out" packed.
    ``bias`` (int32 per output channel, in accumulator units) initializes each tile's
    accumulators by an ACC load instead of the reset GEMM (TVM's VTA flow adds it in the acc)."""
    B, BI, BO = env.BATCH, env.BLOCK_IN, env.BLOCK_OUT
    for name, n, blk in (("batch", wl.batch, B), ("in_filter", wl.in_filter, BI),
                         ("out_filter", wl.out_filter, BO)):
        if n % blk:
            raise ValueError(f"conv2d {wl.name}: {name}={n} is not a multiple of {blk}")
    t = tiles or choose_tiles(env, wl, 2)
    OH, OW, H, W = wl.out_height, wl.out_width, wl.height, wl.width
    Nb, CIb, COb, KH = wl.batch // B, wl.in_filter // BI, wl.out_filter // BO, wl.kernel
    KK, s, p = KH * KH, wl.stride, wl.pad
    if COb % t.tco or OH % t.th or OW % t.tw or CIb % t.tci or not fits(env, wl, t, nthreads):
        raise ValueError(f"conv2d {wl.name}: tiles {t} do not divide the layer or do not fit "
                         f"{nthreads} thread(s) of buffers")
    rt = rt or Runtime(env)
    dbuf = rt.alloc((Nb, CIb, H, W, B, BI), "int8", "data",
                    None if data is None else pack_nchw(data, env))
    kbuf = rt.alloc((COb, CIb, KH, KH, BO, BI), "int8", "kernel",
                    None if kernel is None else pack_oihw(kernel, env))
    obuf = rt.alloc((Nb, COb, OH, OW, B, BO), "int8", "out")
    rows, cols = _geometry(wl, t)
    tco, th, tw, tci = t.tco, t.th, t.tw, t.tci
    bbuf = None
    if bias is not None:   # one acc element per (channel block, tile position), replicated
        b = np.asarray(bias, np.int32).reshape(COb, 1, 1, BO)
        bbuf = rt.alloc((COb, th * tw, B, BO), "int32", "bias",
                        np.ascontiguousarray(np.broadcast_to(b, (COb, th * tw, B, BO))))
    inp_slot, wgt_slot, acc_slot = tci * rows * cols, tco * tci * KK, tco * th * tw

    tiles_list = [(n, co, h, w) for n in range(Nb) for co in range(0, COb, tco)
                  for h in range(0, OH, th) for w in range(0, OW, tw)]
    nchunks = CIb // tci
    proto = TokenProtocol(rt, nthreads, len(tiles_list), len(tiles_list) * nchunks)

    def tile_kernel(abase, push):      # loops over (co, oh), one uop per output column
        def finit(k):
            k.uop_loop_begin(tco, th * tw, 0, 0)
            k.uop_loop_begin(th, tw, 0, 0)
            for ow in range(tw):
                push(k, abase + ow)
            k.uop_loop_end()
            k.uop_loop_end()
        return finit

    def gemm_kernel(abase, ibase, wbase):
        def finit(k):
            k.uop_loop_begin(tco, th * tw, 0, tci * KK)
            k.uop_loop_begin(th, tw, s * cols, 0)
            for ci, kh, kw in itertools.product(range(tci), range(KH), range(KH)):
                for ow in range(tw):   # output column innermost: no two-deep acc hazard
                    k.uop_push(0, 0, abase + ow, ibase + (ci * rows + kh) * cols + kw + ow * s,
                               wbase + ci * KK + kh * KH + kw)
            k.uop_loop_end()
            k.uop_loop_end()
        return finit

    epilogue = (("shr", isa.ALU_SHR, shift), ("min", isa.ALU_MIN, clip[1]),
                ("max", isa.ALU_MAX, clip[0]))
    l = 0
    for tix, (n, co0, h0, w0) in enumerate(tiles_list):
        aslot = tix % nthreads
        abase = aslot * acc_slot
        proto.begin_tile(tix)
        if bbuf is None:
            rt.push_gemm_op("conv.reset", tile_kernel(abase, lambda k, d: k.uop_push(0, 1, d, 0, 0)),
                            aslot)
        else:
            rt.load_buffer_2d(bbuf, co0 * th * tw, th * tw, tco, th * tw, 0, 0, 0, 0, abase,
                              isa.MEM_ACC)
        r0, c0 = h0 * s - p, w0 * s - p
        ypad0, ypad1 = max(0, -r0), max(0, r0 + rows - H)
        xpad0, xpad1 = max(0, -c0), max(0, c0 + cols - W)
        for ci0 in range(0, CIb, tci):
            slot = l % nthreads
            ibase, wbase = slot * inp_slot, slot * wgt_slot
            proto.begin_load(l)
            for ci in range(tci):
                offset = ((n * CIb + ci0 + ci) * H + r0 + ypad0) * W + c0 + xpad0
                rt.load_buffer_2d(dbuf, offset, cols - xpad0 - xpad1, rows - ypad0 - ypad1, W,
                                  xpad0, ypad0, xpad1, ypad1, ibase + ci * rows * cols,
                                  isa.MEM_INP)
            rt.load_buffer_2d(kbuf, (co0 * CIb + ci0) * KK, tci * KK, tco, CIb * KK,
                              0, 0, 0, 0, wbase, isa.MEM_WGT)
            proto.end_load(l)
            rt.push_gemm_op("conv.gemm", gemm_kernel(abase, ibase, wbase), (slot, aslot))
            proto.end_compute(l)
            l += 1
        for name, op, imm in epilogue:
            rt.push_alu_op(f"conv.{name}", tile_kernel(
                abase, lambda k, d, op=op, imm=imm: k.uop_push(1, 0, d, d, 0, op, 1, imm)), aslot)
        proto.end_tile(tix)
        out0 = ((n * COb + co0) * OH + h0) * OW + w0
        if tw == OW:   # whole rows: the tco channel blocks are one strided 2-D store
            rt.store_buffer_2d(abase, isa.MEM_OUT, obuf, out0, th * tw, tco, OH * OW)
        else:
            for co in range(tco):
                rt.store_buffer_2d(abase + co * th * tw, isa.MEM_OUT, obuf, out0 + co * OH * OW,
                                   tw, th, OW)
        proto.end_store(tix)
    bufs = {"data": dbuf, "kernel": kbuf, "out": obuf}
    if bbuf is not None:
        bufs["bias"] = bbuf
    return rt.flush(), bufs


def run(env, wl: Conv2DWorkload, data, kernel, *, nthreads=1, tiles=None, shift=8,
        clip=(0, 127), simulator=None, bias=None):
    """Build and simulate; returns ``(out NCHW int8, SimResult)``."""
    from accel.vta import Simulator
    prog, _ = build(env, wl, nthreads=nthreads, tiles=tiles, shift=shift, clip=clip, data=data,
                    kernel=kernel, bias=bias)
    result = (simulator or Simulator(env)).run(prog)
    return unpack_nchw(result.outputs["out"]), result


def reference(wl: Conv2DWorkload, data, kernel, *, shift=8, clip=(0, 127), bias=None):
    return conv2d_reference(data, kernel, stride=wl.stride, pad=wl.pad, shift=shift, clip=clip,
                            bias=bias)
