"""VTA's two-level ISA: 128-bit task instructions and 32-bit micro-ops.

Instructions are frozen dataclasses with VTA's field names (unset fields are 0; the opcode is
implied by the class).  ``encode``/``decode`` are bit-exact with the hardware layout of
``hw_spec.h``: ``uint64_t`` bitfields packed from the LSB, two little-endian words per
instruction, field widths derived from the configuration (``layout(cls, env)``).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import env as _env
from .errors import EncodingError

# Opcodes (hw_spec_const.h)
OPCODE_LOAD, OPCODE_STORE, OPCODE_GEMM, OPCODE_FINISH, OPCODE_ALU = 0, 1, 2, 3, 4
# Memory ids
MEM_UOP, MEM_WGT, MEM_INP, MEM_ACC, MEM_OUT, MEM_ACC_8BIT = 0, 1, 2, 3, 4, 5
MEM_NAMES = {MEM_UOP: "UOP", MEM_WGT: "WGT", MEM_INP: "INP", MEM_ACC: "ACC", MEM_OUT: "OUT",
             MEM_ACC_8BIT: "ACC_8BIT"}
# ALU opcodes (MUL exists from HW_VER 0.0.2)
ALU_MIN, ALU_MAX, ALU_ADD, ALU_SHR, ALU_MUL = 0, 1, 2, 3, 4
ALU_NAMES = {ALU_MIN: "MIN", ALU_MAX: "MAX", ALU_ADD: "ADD", ALU_SHR: "SHR", ALU_MUL: "MUL"}


@dataclass(frozen=True, kw_only=True, slots=True)
class _Header:
    pop_prev_dep: int = 0
    pop_next_dep: int = 0
    push_prev_dep: int = 0
    push_next_dep: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class _Mem(_Header):
    memory_type: int = 0
    sram_base: int = 0
    dram_base: int = 0
    y_size: int = 0
    x_size: int = 0
    x_stride: int = 0
    y_pad_0: int = 0
    y_pad_1: int = 0
    x_pad_0: int = 0
    x_pad_1: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Load(_Mem):
    """2-D strided DMA from DRAM into SRAM, with zero padding (``x_size == 0``: a dependency NOP)."""
    OPCODE: ClassVar[int] = OPCODE_LOAD


@dataclass(frozen=True, kw_only=True, slots=True)
class Store(_Mem):
    """2-D strided DMA from ``out_mem`` to DRAM; padding must be 0."""
    OPCODE: ClassVar[int] = OPCODE_STORE


@dataclass(frozen=True, kw_only=True, slots=True)
class _Loop(_Header):
    reset_reg: int = 0
    uop_bgn: int = 0
    uop_end: int = 0
    iter_out: int = 0
    iter_in: int = 0
    dst_factor_out: int = 0
    dst_factor_in: int = 0
    src_factor_out: int = 0
    src_factor_in: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Gemm(_Loop):
    """acc[dst] += inp[src] . wgt[wgt]^T over iter_out x iter_in x uops (reset_reg: acc[dst] = 0)."""
    OPCODE: ClassVar[int] = OPCODE_GEMM
    wgt_factor_out: int = 0
    wgt_factor_in: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Alu(_Loop):
    """acc[dst] = op(acc[dst], imm if use_imm else acc[src]) over iter_out x iter_in x uops."""
    OPCODE: ClassVar[int] = OPCODE_ALU
    alu_opcode: int = 0
    use_imm: int = 0
    imm: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Finish(_Header):
    """Raises the compute module's done flag; must carry no pop."""
    OPCODE: ClassVar[int] = OPCODE_FINISH


@dataclass(frozen=True, slots=True)
class Uop:
    """A micro-op: indices into acc (dst), inp or acc (src) and wgt SRAM."""
    dst_idx: int = 0
    src_idx: int = 0
    wgt_idx: int = 0


Insn = Load | Store | Gemm | Alu | Finish
CLASSES = {c.OPCODE: c for c in (Load, Store, Gemm, Alu, Finish)}
SIGNED_FIELDS = frozenset({"imm"})


@functools.lru_cache(maxsize=64)
def layout(cls, env) -> tuple[tuple[str, int, int], ...]:
    """``(field, lsb, width)`` triples of ``cls`` under ``env``, in hardware order."""
    head = [("opcode", _env.OPCODE_BITS), ("pop_prev_dep", 1), ("pop_next_dep", 1),
            ("push_prev_dep", 1), ("push_next_dep", 1)]
    if cls is Finish:
        word0, word1 = head, []
    elif cls in (Load, Store):
        word0 = head + [("memory_type", env.MEMOP_ID_BITS),
                        ("sram_base", _env.MEMOP_SRAM_ADDR_BITS),
                        ("dram_base", _env.MEMOP_DRAM_ADDR_BITS)]
        s, p = _env.MEMOP_SIZE_BITS, _env.MEMOP_PAD_BITS
        word1 = [("y_size", s), ("x_size", s), ("x_stride", _env.MEMOP_STRIDE_BITS),
                 ("y_pad_0", p), ("y_pad_1", p), ("x_pad_0", p), ("x_pad_1", p)]
    else:
        u, a = env.LOG_UOP_BUFF_DEPTH, env.LOG_ACC_BUFF_DEPTH
        word0 = head + [("reset_reg", 1), ("uop_bgn", u), ("uop_end", u + 1),
                        ("iter_out", _env.LOOP_ITER_BITS), ("iter_in", _env.LOOP_ITER_BITS)]
        if cls is Gemm:
            i, w = env.LOG_INP_BUFF_DEPTH, env.LOG_WGT_BUFF_DEPTH
            word1 = [("dst_factor_out", a), ("dst_factor_in", a), ("src_factor_out", i),
                     ("src_factor_in", i), ("wgt_factor_out", w), ("wgt_factor_in", w)]
        else:  # ALU sources index the accumulator, so its src factors have acc width
            word1 = [("dst_factor_out", a), ("dst_factor_in", a), ("src_factor_out", a),
                     ("src_factor_in", a), ("alu_opcode", _env.ALU_OPCODE_BITS), ("use_imm", 1),
                     ("imm", _env.ALU_IMM_BITS)]
    out = []
    for base, fields in ((0, word0), (64, word1)):
        pos = base
        for name, width in fields:
            out.append((name, pos, width))
            pos += width
        if pos > base + 64:  # Env validation keeps this from happening; guard the invariant
            raise EncodingError(f"{cls.__name__}: fields overflow 64-bit word {base // 64}")
    return tuple(out)


@functools.lru_cache(maxsize=16)
def uop_layout(env) -> tuple[tuple[str, int, int], ...]:
    a, s, w = env.LOG_ACC_BUFF_DEPTH, env.UOP_SRC_BITS, env.LOG_WGT_BUFF_DEPTH
    return (("dst_idx", 0, a), ("src_idx", a, s), ("wgt_idx", a + s, w))


def _pack(obj, fields, name) -> int:
    value = 0
    for field, lsb, width in fields:
        v = obj.OPCODE if field == "opcode" else getattr(obj, field)
        if not isinstance(v, (int, np.integer)):
            raise EncodingError(f"{name}.{field}={v!r}: expected an integer")
        v = int(v)
        if field in SIGNED_FIELDS:
            lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
            if not lo <= v <= hi:
                raise EncodingError(f"{name}.{field}={v} does not fit in {width} signed bits "
                                    f"[{lo}, {hi}]")
            v &= (1 << width) - 1
        elif not 0 <= v < (1 << width):
            raise EncodingError(f"{name}.{field}={v} does not fit in {width} bits "
                                f"[0, {(1 << width) - 1}]")
        value |= v << lsb
    return value


def encode(insn, env) -> bytes:
    """16 little-endian bytes for an instruction, 4 for a Uop."""
    if isinstance(insn, Uop):
        return _pack(_UopView(insn), uop_layout(env), "Uop").to_bytes(4, "little")
    cls = type(insn)
    if cls not in CLASSES.values():
        raise TypeError(f"encode: expected an isa instruction or Uop, got {cls.__name__}")
    return _pack(insn, layout(cls, env), cls.__name__).to_bytes(16, "little")


class _UopView:
    """Adapter so ``_pack`` can read a Uop (which has no OPCODE)."""
    __slots__ = ("u",)
    OPCODE = None

    def __init__(self, u):
        self.u = u

    def __getattr__(self, name):
        return getattr(self.u, name)


def decode(data, env):
    """Inverse of ``encode``: 16 bytes -> instruction, 4 bytes -> Uop."""
    data = bytes(data)
    if len(data) == 4:
        v = int.from_bytes(data, "little")
        return Uop(**{f: (v >> lsb) & ((1 << w) - 1) for f, lsb, w in uop_layout(env)})
    if len(data) != 16:
        raise EncodingError(f"decode: expected 16 bytes (instruction) or 4 (uop), got {len(data)}")
    v = int.from_bytes(data, "little")
    opcode = v & ((1 << _env.OPCODE_BITS) - 1)
    cls = CLASSES.get(opcode)
    if cls is None:
        raise EncodingError(f"decode: opcode={opcode} is not LOAD/STORE/GEMM/FINISH/ALU")
    kwargs = {}
    for field, lsb, width in layout(cls, env):
        if field == "opcode":
            continue
        x = (v >> lsb) & ((1 << width) - 1)
        if field in SIGNED_FIELDS and x >> (width - 1):
            x -= 1 << width
        kwargs[field] = x
    return cls(**kwargs)


def encode_program(insns, env) -> bytes:
    return b"".join(encode(i, env) for i in insns)


def decode_program(data, env) -> list:
    data = bytes(data)
    if len(data) % 16:
        raise EncodingError(f"decode_program: {len(data)} bytes is not a multiple of 16")
    return [decode(data[k:k + 16], env) for k in range(0, len(data), 16)]


def uops_to_array(uops, env) -> np.ndarray:
    """Encode micro-ops as a uint32 array (the DRAM image a LOAD UOP reads)."""
    (_, _, a), (_, s_lsb, s), (_, w_lsb, w) = uop_layout(env)
    arr = np.array([(u.dst_idx, u.src_idx, u.wgt_idx) for u in uops], dtype=np.int64).reshape(-1, 3)
    for col, (field, width) in enumerate((("dst_idx", a), ("src_idx", s), ("wgt_idx", w))):
        bad = (arr[:, col] < 0) | (arr[:, col] >= (1 << width))
        if bad.any():
            k = int(np.argmax(bad))
            raise EncodingError(f"Uop[{k}].{field}={int(arr[k, col])} does not fit in {width} bits")
    words = arr[:, 0] | (arr[:, 1] << s_lsb) | (arr[:, 2] << w_lsb)
    return words.astype(np.uint32)


def uop_fields(words: np.ndarray, env):
    """Vectorized uop decode: uint32 words -> (dst, src, wgt) int64 arrays."""
    words = np.asarray(words, dtype=np.int64)
    return tuple((words >> lsb) & ((1 << w) - 1) for _, lsb, w in uop_layout(env))


def stage_of(insn) -> int:
    """Pipeline stage that executes ``insn``: 1 load, 2 compute, 3 store (VTA's queue ids)."""
    cls = type(insn)
    if cls is Load:
        return 1 if insn.memory_type in (MEM_INP, MEM_WGT) else 2
    if cls is Store:
        return 3
    return 2


def fields(insn) -> dict:
    """The instruction's fields as a dict (for printing and JSON)."""
    return {f.name: getattr(insn, f.name) for f in dataclasses.fields(insn)}
