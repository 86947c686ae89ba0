"""Bit-exact functional model of VTA (fsim semantics), vectorized per instruction.

SRAMs are numpy arrays of their element shape (inp: B x BI int8, wgt: BO x BI int8,
acc: B x BO int32, out: B x BO int8).  A GEMM or ALU instruction expands its
(iter_out, iter_in, uop) index space with broadcasting; GEMMs are evaluated as a few BLAS
matmuls in floating point chosen wide enough to be exact (products of int8 are < 2^15), then
wrapped to int32 like the hardware accumulator.
"""
from __future__ import annotations

import numpy as np

from .. import isa
from ..disasm import mnemonic
from ..errors import ProgramError
from ..program import DRAM_BASE

_EXACT_F32 = 1 << 24


class FunctionalState:
    def __init__(self, env, image: np.ndarray):
        self.env = env
        self.dram = image
        B, BI, BO = env.BATCH, env.BLOCK_IN, env.BLOCK_OUT
        self.inp = np.zeros((env.INP_BUFF_DEPTH, B, BI), np.int8)
        self.wgt = np.zeros((env.WGT_BUFF_DEPTH, BO, BI), np.int8)
        self.acc = np.zeros((env.ACC_BUFF_DEPTH, B, BO), np.int32)
        self.out = np.zeros((env.ACC_BUFF_DEPTH, B, BO), np.int8)
        self.uop = np.zeros((3, env.UOP_BUFF_DEPTH), np.int64)  # dst, src, wgt
        self.stored = []  # (lo, hi) byte ranges written by STOREs
        self._views = {}
        # Index plans of GEMM/ALU instructions, keyed by their loop fields; a LOAD UOP changes
        # the micro-ops they were derived from, so it clears the cache.
        self._plans = {}

    # ------------------------------------------------------------------ DRAM
    def _elems(self, dtype, shape):
        key = (dtype, shape)
        if key not in self._views:
            self._views[key] = self.dram.view(dtype).reshape((-1,) + shape)
        return self._views[key]

    def _dram_index(self, insn, idx, elems, eb):
        base = DRAM_BASE // eb
        rows = insn.dram_base - base + np.arange(insn.y_size, dtype=np.int64) * insn.x_stride
        index = rows[:, None] + np.arange(insn.x_size, dtype=np.int64)[None, :]
        if index.min() < 0 or index.max() >= len(elems):
            raise ProgramError(f"insn {idx} {mnemonic(insn)}: dram_base={insn.dram_base:#x} "
                               f"y={insn.y_size} x={insn.x_size} stride={insn.x_stride} "
                               "runs outside DRAM")
        return index

    def _mem(self, memory_type):
        env, B, BI, BO = self.env, self.env.BATCH, self.env.BLOCK_IN, self.env.BLOCK_OUT
        if memory_type == isa.MEM_INP:
            return self.inp, self._elems(np.int8, (B, BI)), env.INP_ELEM_BYTES
        if memory_type == isa.MEM_WGT:
            return self.wgt, self._elems(np.int8, (BO, BI)), env.WGT_ELEM_BYTES
        if memory_type == isa.MEM_ACC:
            return self.acc, self._elems(np.int32, (B, BO)), env.ACC_ELEM_BYTES
        if memory_type == isa.MEM_ACC_8BIT:
            return self.acc, self._elems(np.int8, (B, BO)), env.OUT_ELEM_BYTES
        raise ProgramError(f"memory_type={memory_type} is not loadable")

    # ------------------------------------------------------------------ dispatch
    def execute(self, insn, idx: int) -> None:
        cls = type(insn)
        if cls is isa.Load:
            self._load(insn, idx)
        elif cls is isa.Store:
            self._store(insn, idx)
        elif cls is isa.Gemm:
            self._gemm(insn, idx)
        elif cls is isa.Alu:
            self._alu(insn, idx)

    def _load(self, insn, idx):
        if insn.x_size == 0:
            return
        if insn.memory_type == isa.MEM_UOP:
            words = self._elems(np.uint32, ())
            index = self._dram_index(insn, idx, words, 4).reshape(-1)
            self._check_sram(insn, idx, len(index), self.env.UOP_BUFF_DEPTH, "uop")
            fields = isa.uop_fields(words[index], self.env)
            self.uop[:, insn.sram_base:insn.sram_base + len(index)] = np.stack(fields)
            self._plans.clear()
            return
        sram, elems, eb = self._mem(insn.memory_type)
        index = self._dram_index(insn, idx, elems, eb)
        yp = insn.y_pad_0 + insn.y_size + insn.y_pad_1
        xp = insn.x_pad_0 + insn.x_size + insn.x_pad_1
        self._check_sram(insn, idx, yp * xp, len(sram), isa.MEM_NAMES[insn.memory_type].lower())
        region = sram[insn.sram_base:insn.sram_base + yp * xp].reshape((yp, xp) + sram.shape[1:])
        if yp * xp != insn.y_size * insn.x_size:
            region[...] = 0
        region[insn.y_pad_0:insn.y_pad_0 + insn.y_size,
               insn.x_pad_0:insn.x_pad_0 + insn.x_size] = elems[index]

    def _store(self, insn, idx):
        if insn.x_size == 0:
            return
        if insn.memory_type != isa.MEM_OUT:
            raise ProgramError(f"insn {idx} STORE: memory_type={insn.memory_type}, must be OUT "
                               f"({isa.MEM_OUT})")
        if insn.y_pad_0 or insn.y_pad_1 or insn.x_pad_0 or insn.x_pad_1:
            raise ProgramError(f"insn {idx} STORE: padding must be 0")
        env = self.env
        elems = self._elems(np.int8, (env.BATCH, env.BLOCK_OUT))
        index = self._dram_index(insn, idx, elems, env.OUT_ELEM_BYTES)
        count = insn.y_size * insn.x_size
        self._check_sram(insn, idx, count, len(self.out), "out")
        elems[index] = self.out[insn.sram_base:insn.sram_base + count].reshape(
            (insn.y_size, insn.x_size) + self.out.shape[1:])
        eb = env.OUT_ELEM_BYTES
        self.stored.append((int(index.min()) * eb, (int(index.max()) + 1) * eb))

    @staticmethod
    def _check_sram(insn, idx, count, depth, name):
        if insn.sram_base + count > depth:
            raise ProgramError(f"insn {idx} {mnemonic(insn)}: sram_base={insn.sram_base} + "
                               f"{count} elements overflows the {name} buffer (depth {depth})")

    # ------------------------------------------------------------------ index spaces
    def _grid(self, insn, idx, row, fo, fi, depth, name):
        """Full (iter_out, iter_in, uop) index array of one operand, bounds-checked."""
        base = self.uop[row, insn.uop_bgn:insn.uop_end]
        hi = int(base.max()) + (insn.iter_out - 1) * fo + (insn.iter_in - 1) * fi
        if hi >= depth:
            raise ProgramError(f"insn {idx} {mnemonic(insn)}: {name} index reaches {hi}, "
                               f"beyond the buffer depth {depth}")
        return (base[None, None, :] + (np.arange(insn.iter_out) * fo)[:, None, None]
                + (np.arange(insn.iter_in) * fi)[None, :, None])

    @staticmethod
    def _depends(grid) -> tuple:
        """Which of the three axes an index grid varies along."""
        return tuple(grid.shape[a] > 1 and not (np.diff(grid, axis=a) == 0).all()
                     for a in range(3))

    @staticmethod
    def _scatter_plan(dst):
        """Flat destinations plus, if some repeat, how to sum their contributions first."""
        dst = dst.reshape(-1)
        uniq, inverse = np.unique(dst, return_inverse=True)
        return (dst, None, None) if len(uniq) == len(dst) else (dst, uniq, inverse)

    def _write_acc(self, scatter, delta):
        """acc[dst] += delta with int32 wrap-around; repeated destinations are summed."""
        dst, uniq, inverse = scatter
        delta = delta.reshape((len(dst),) + self.acc.shape[1:])
        if uniq is not None:
            lanes = delta.shape[1] * delta.shape[2]
            flat = (inverse[:, None] * lanes + np.arange(lanes)[None, :]).reshape(-1)
            summed = np.bincount(flat, weights=delta.reshape(-1).astype(np.float64),
                                 minlength=len(uniq) * lanes)
            dst, delta = uniq, summed.reshape((len(uniq),) + self.acc.shape[1:])
        total = self.acc[dst].astype(np.int64) + delta.astype(np.int64)
        self.acc[dst] = total.astype(np.int32)  # wraps modulo 2^32 like the hardware adder
        self.out[dst] = self.acc[dst].astype(np.int8)

    def _plan(self, insn, idx, build):
        key = (type(insn), insn.reset_reg, insn.uop_bgn, insn.uop_end, insn.iter_out,
               insn.iter_in, insn.dst_factor_out, insn.dst_factor_in, insn.src_factor_out,
               insn.src_factor_in, getattr(insn, "wgt_factor_out", 0),
               getattr(insn, "wgt_factor_in", 0), getattr(insn, "use_imm", 0))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 4096:
                self._plans.clear()
            plan = self._plans[key] = build(insn, idx)
        return plan

    def _gemm(self, insn, idx):
        if insn.uop_end <= insn.uop_bgn or insn.iter_out == 0 or insn.iter_in == 0:
            return
        plan = self._plan(insn, idx, self._gemm_plan)
        if insn.reset_reg:
            self.acc[plan] = 0
            self.out[plan] = 0
            return
        xi, wi, ftype, Pxr, Pwr, rep, shape, bcast, scatter = plan
        G, Pm, Pn, Pk, g = shape
        B, BI, BO = self.env.BATCH, self.env.BLOCK_IN, self.env.BLOCK_OUT
        X = self.inp[xi].astype(ftype)
        W = self.wgt[wi].astype(ftype)
        X = X.sum(axis=4) if Pxr > 1 else X[:, :, :, :, 0]
        W = W.sum(axis=4) if Pwr > 1 else W[:, :, :, :, 0]
        X = X.transpose(0, 2, 4, 1, 3, 5).reshape(G, Pm * B, g * Pk * BI)
        W = W.transpose(0, 1, 3, 5, 2, 4).reshape(G, g * Pk * BI, Pn * BO)
        R = np.matmul(X, W).reshape(G, Pm, B, Pn, BO).transpose(0, 1, 3, 2, 4)
        if rep > 1:
            R = R * rep
        if bcast:
            R = np.broadcast_to(R[:, :, :, None], R.shape[:3] + (bcast, B, BO))
        self._write_acc(scatter, R)

    def _gemm_plan(self, insn, idx):
        e = self.env
        dst = self._grid(insn, idx, 0, insn.dst_factor_out, insn.dst_factor_in,
                         e.ACC_BUFF_DEPTH, "acc")
        if insn.reset_reg:
            return np.unique(dst)
        src = self._grid(insn, idx, 1, insn.src_factor_out, insn.src_factor_in,
                         e.INP_BUFF_DEPTH, "inp")
        wgt = self._grid(insn, idx, 2, insn.wgt_factor_out, insn.wgt_factor_in,
                         e.WGT_BUFF_DEPTH, "wgt")
        size = dst.shape
        ds, dx, dw = self._depends(dst), self._depends(src), self._depends(wgt)

        # Each axis of (iter_out, iter_in, uop) is classified by which of dst/src/wgt vary
        # along it.  dst-varying axes are kept (batch if both operands vary, else the matmul's
        # M or N side, or a pure broadcast); the others are reduced (in the matmul's K if both
        # operands vary, else summed on one operand first, or a plain repeat count).
        def axes(d, x, w):
            return [a for a in range(3) if (ds[a], dx[a], dw[a]) == (d, x, w)]
        batch, m_ax, n_ax, bcast = axes(1, 1, 1), axes(1, 1, 0), axes(1, 0, 1), axes(1, 0, 0)
        k_ax, x_red, w_red, rep_ax = axes(0, 1, 1), axes(0, 1, 0), axes(0, 0, 1), axes(0, 0, 0)

        def prod(ax):
            return int(np.prod([size[a] for a in ax]))
        Pb, Pm, Pn, Pk, Pxr, Pwr = map(prod, (batch, m_ax, n_ax, k_ax, x_red, w_red))
        d0 = int(dst[0, 0, 0])

        def part(ax):  # contribution of ``ax`` to dst: dst is a sum of per-axis terms
            return (_ordered(dst, ax) - d0).reshape(-1)
        xi = _ordered(src, batch + m_ax + k_ax + x_red).reshape(Pb, Pm, Pk, Pxr)
        wi = _ordered(wgt, batch + n_ax + k_ax + w_red).reshape(Pb, Pn, Pk, Pwr)
        key, g = part(batch), 1
        if Pb > 1:
            # batch entries that share a destination (e.g. a conv's kh, kw, ci micro-ops) are
            # summed inside the matmul: sort them together and fold them into K
            uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
            if len(uniq) < Pb and (counts == counts[0]).all():
                order = np.argsort(inverse, kind="stable")
                xi, wi, key, g = xi[order], wi[order], uniq, int(counts[0])
        G = Pb // g
        bound = (1 << 14) * e.BLOCK_IN * Pk * g * Pxr * Pwr * prod(rep_ax)
        ftype = np.float32 if bound < _EXACT_F32 else np.float64  # exact integer sums
        out_dst = d0 + key[:, None, None] + part(m_ax)[None, :, None] + part(n_ax)[None, None, :]
        nb = 0
        if bcast:
            out_dst = out_dst[..., None] + part(bcast)
            nb = out_dst.shape[-1]
        return (xi.reshape(G, g, Pm, Pk, Pxr), wi.reshape(G, g, Pn, Pk, Pwr), ftype, Pxr, Pwr,
                prod(rep_ax), (G, Pm, Pn, Pk, g), nb, self._scatter_plan(out_dst))

    # ------------------------------------------------------------------ ALU
    def _alu(self, insn, idx):
        e = self.env
        if insn.uop_end <= insn.uop_bgn or insn.iter_out == 0 or insn.iter_in == 0:
            return
        op = insn.alu_opcode
        if op not in isa.ALU_NAMES or (op == isa.ALU_MUL and e.HW_VER < "0.0.2"):
            raise ProgramError(f"insn {idx} ALU: alu_opcode={op} is not supported by HW_VER "
                               f"{e.HW_VER}")
        # reset_reg is ignored: fsim, the HLS and the Chisel ALU all compute the op regardless
        dst, src, conflict, unique = self._plan(insn, idx, self._alu_plan)
        if insn.use_imm:
            src, conflict = None, False
        if not conflict and unique:
            operand = insn.imm if src is None else self.acc[src]
            self.acc[dst] = _alu_op(op, self.acc[dst], operand)
        elif not conflict and (op != isa.ALU_SHR or src is None):
            # repeated destinations apply the op in sequence: ufunc.at does exactly that
            operand = insn.imm if src is None else self.acc[src]
            if op == isa.ALU_SHR:
                ufunc, operand = (np.right_shift, min(operand, 31)) if operand >= 0 else \
                    (np.left_shift, min(-operand, 31))
            else:
                ufunc = {isa.ALU_MIN: np.minimum, isa.ALU_MAX: np.maximum, isa.ALU_ADD: np.add,
                         isa.ALU_MUL: np.multiply}[op]
            ufunc.at(self.acc, dst, np.int32(operand) if src is None else operand)
        else:
            # a source written earlier by the same instruction: replay in issue order (rare;
            # the hardware's own read-after-write window makes such kernels unusual)
            for k in range(len(dst)):
                operand = insn.imm if src is None else self.acc[src[k]]
                self.acc[dst[k]] = _alu_op(op, self.acc[dst[k]], operand)
        self.out[dst] = self.acc[dst].astype(np.int8)

    def _alu_plan(self, insn, idx):
        e = self.env
        dst = self._grid(insn, idx, 0, insn.dst_factor_out, insn.dst_factor_in,
                         e.ACC_BUFF_DEPTH, "acc").reshape(-1)
        n = len(dst)
        src = self._grid(insn, idx, 1, insn.src_factor_out, insn.src_factor_in,
                         e.ACC_BUFF_DEPTH, "acc").reshape(-1) if not insn.use_imm else None
        conflict = False
        if src is not None:
            first = np.full(len(self.acc), n, np.int64)
            first[dst[::-1]] = np.arange(n - 1, -1, -1)  # first writer of each index
            conflict = bool((first[src] < np.arange(n)).any())  # reads a value written earlier
        return dst, src, conflict, len(np.unique(dst)) == n


def _ordered(grid, axes):
    """Index grid restricted to ``axes``, transposed so they appear in that order."""
    sl = tuple(slice(None) if a in axes else 0 for a in range(3))
    sub = grid[sl]
    remaining = [a for a in range(3) if a in axes]
    return sub.transpose([remaining.index(a) for a in axes])


def _alu_op(op, a, b):
    """One ALU op on int32 lanes; ``b`` is an int32 array or the sign-extended immediate."""
    if op == isa.ALU_MIN:
        return np.minimum(a, b).astype(np.int32)
    if op == isa.ALU_MAX:
        return np.maximum(a, b).astype(np.int32)
    if op == isa.ALU_ADD:
        return (a.astype(np.int64) + b).astype(np.int32)
    if op == isa.ALU_MUL:
        return (a.astype(np.int64) * b).astype(np.int32)
    # SHR: a non-negative operand shifts right (arithmetic), a negative one left by its magnitude
    b = np.asarray(b, np.int64)
    right = np.right_shift(a, np.minimum(b, 31).clip(0).astype(np.int32))
    left = np.left_shift(a.astype(np.int64), np.minimum(-b, 31).clip(0)).astype(np.int32)
    return np.where(b >= 0, right, left).astype(np.int32)
