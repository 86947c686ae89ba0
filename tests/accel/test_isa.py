import dataclasses

import numpy as np
import pytest

from accel import vta
from accel.vta import isa

# Bit positions of the default configuration, copied from the reference (hw_spec.h layout).
REF = {
    "Load": dict(opcode=(0, 3), pop_prev_dep=(3, 1), pop_next_dep=(4, 1), push_prev_dep=(5, 1),
                 push_next_dep=(6, 1), memory_type=(7, 3), sram_base=(10, 16),
                 dram_base=(26, 32), y_size=(64, 16), x_size=(80, 16), x_stride=(96, 16),
                 y_pad_0=(112, 4), y_pad_1=(116, 4), x_pad_0=(120, 4), x_pad_1=(124, 4)),
    "Gemm": dict(reset_reg=(7, 1), uop_bgn=(8, 13), uop_end=(21, 14), iter_out=(35, 14),
                 iter_in=(49, 14), dst_factor_out=(64, 11), dst_factor_in=(75, 11),
                 src_factor_out=(86, 11), src_factor_in=(97, 11), wgt_factor_out=(108, 10),
                 wgt_factor_in=(118, 10)),
    "Alu": dict(reset_reg=(7, 1), uop_bgn=(8, 13), uop_end=(21, 14), iter_out=(35, 14),
                iter_in=(49, 14), dst_factor_out=(64, 11), dst_factor_in=(75, 11),
                src_factor_out=(86, 11), src_factor_in=(97, 11), alu_opcode=(108, 3),
                use_imm=(111, 1), imm=(112, 16)),
}


@pytest.mark.parametrize("cls", [isa.Load, isa.Gemm, isa.Alu])
def test_default_layout_matches_reference(env, cls):
    got = {name: (lsb, width) for name, lsb, width in isa.layout(cls, env)}
    for name, pos in REF[cls.__name__].items():
        assert got[name] == pos, name


def test_uop_layout(env):
    assert isa.uop_layout(env) == (("dst_idx", 0, 11), ("src_idx", 11, 11), ("wgt_idx", 22, 10))
    word = int.from_bytes(isa.encode(isa.Uop(dst_idx=5, src_idx=7, wgt_idx=9), env), "little")
    assert word == 5 | 7 << 11 | 9 << 22


def _manual(fields: dict, positions: dict) -> bytes:
    value = 0
    for name, v in fields.items():
        lsb, width = positions[name]
        value |= (v & ((1 << width) - 1)) << lsb
    return value.to_bytes(16, "little")


def test_encoding_is_bit_exact(env):
    load = isa.Load(pop_next_dep=1, push_next_dep=1, memory_type=isa.MEM_INP, sram_base=0x1234,
                    dram_base=0x01000040, y_size=7, x_size=58, x_stride=56, y_pad_0=1,
                    x_pad_0=1, x_pad_1=1)
    want = _manual(dict(opcode=0, **isa.fields(load)), REF["Load"])
    assert isa.encode(load, env) == want
    alu = isa.Alu(alu_opcode=isa.ALU_SHR, use_imm=1, imm=-3, uop_bgn=17, uop_end=33,
                  iter_out=4, iter_in=14, dst_factor_out=196, dst_factor_in=14, push_prev_dep=1)
    header = dict(opcode=(0, 3), push_prev_dep=(5, 1), pop_prev_dep=(3, 1), pop_next_dep=(4, 1),
                  push_next_dep=(6, 1))
    want = _manual(dict(opcode=4, **isa.fields(alu)), {**REF["Alu"], **header})
    assert isa.encode(alu, env) == want
    assert len(isa.encode(isa.Finish(), env)) == 16
    assert isa.encode(isa.Finish(), env)[0] == isa.OPCODE_FINISH


def _random_insn(cls, env, rng):
    kwargs = {}
    for name, _, width in isa.layout(cls, env):
        if name == "opcode":
            continue
        if name == "imm":
            kwargs[name] = int(rng.integers(-(1 << 15), 1 << 15))
        else:
            kwargs[name] = int(rng.integers(0, 1 << width))
    return cls(**kwargs)


@pytest.mark.parametrize("cfg", [{}, {"HW_VER": "0.0.1"}, {"LOG_BLOCK": 5, "LOG_INP_BUFF_SIZE": 14},
                                 {"LOG_UOP_BUFF_SIZE": 12}])
def test_round_trip_random(rng, cfg):
    env = vta.Env(**cfg)
    for cls in (isa.Load, isa.Store, isa.Gemm, isa.Alu, isa.Finish):
        for _ in range(25):
            insn = _random_insn(cls, env, rng)
            data = isa.encode(insn, env)
            assert len(data) == 16 and isa.decode(data, env) == insn
    for _ in range(25):
        u = isa.Uop(*(int(rng.integers(0, 1 << w)) for _, _, w in isa.uop_layout(env)))
        assert isa.decode(isa.encode(u, env), env) == u


def test_widths_follow_config():
    old = vta.Env(HW_VER="0.0.1")
    pos = {n: (lsb, w) for n, lsb, w in isa.layout(isa.Load, old)}
    assert pos["memory_type"] == (7, 2) and pos["sram_base"] == (9, 16)
    small = vta.Env(LOG_UOP_BUFF_SIZE=12)  # 1024 uops -> 10-bit uop_bgn
    pos = {n: (lsb, w) for n, lsb, w in isa.layout(isa.Gemm, small)}
    assert pos["uop_bgn"] == (8, 10) and pos["uop_end"] == (18, 11)
    wide = vta.Env(LOG_BLOCK=5, LOG_INP_BUFF_SIZE=14)   # inp depth 512 -> 9-bit src factors
    pos = {n: (lsb, w) for n, lsb, w in isa.layout(isa.Gemm, wide)}
    assert pos["src_factor_out"][1] == 9


@pytest.mark.parametrize("insn, field", [
    (isa.Gemm(uop_bgn=8192), "uop_bgn"),
    (isa.Gemm(iter_out=1 << 14), "iter_out"),
    (isa.Gemm(wgt_factor_in=1024), "wgt_factor_in"),
    (isa.Alu(imm=1 << 15), "imm"),
    (isa.Alu(imm=-(1 << 15) - 1), "imm"),
    (isa.Load(y_pad_0=16), "y_pad_0"),
    (isa.Store(dram_base=1 << 32), "dram_base"),
    (isa.Load(sram_base=-1), "sram_base"),
    (isa.Uop(dst_idx=2048), "dst_idx"),
])
def test_value_that_does_not_fit_raises_naming_field(env, insn, field):
    with pytest.raises(ValueError, match=field):
        isa.encode(insn, env)


def test_instructions_are_frozen_keyword_dataclasses():
    g = isa.Gemm(iter_out=2)
    assert g.iter_in == 0 and g.OPCODE == isa.OPCODE_GEMM
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.iter_out = 3
    with pytest.raises(TypeError):
        isa.Gemm(2)


def test_decode_rejects_bad_input(env):
    with pytest.raises(ValueError, match="opcode"):
        isa.decode(bytes([7]) + bytes(15), env)
    with pytest.raises(ValueError):
        isa.decode(bytes(5), env)


def test_uop_arrays(env):
    uops = [isa.Uop(1, 2, 3), isa.Uop(2047, 2047, 1023)]
    words = isa.uops_to_array(uops, env)
    assert words.dtype == np.uint32
    assert [int.from_bytes(isa.encode(u, env), "little") for u in uops] == list(words)
    dst, src, wgt = isa.uop_fields(words, env)
    assert list(dst) == [1, 2047] and list(wgt) == [3, 1023]


def test_disassembler_listing(env):
    prog = [isa.Load(memory_type=isa.MEM_INP, x_size=4, y_size=2, x_stride=8, push_next_dep=1),
            isa.Gemm(pop_prev_dep=1, uop_bgn=0, uop_end=4, iter_out=2, iter_in=3),
            isa.Alu(alu_opcode=isa.ALU_SHR, use_imm=1, imm=8, uop_end=1),
            isa.Store(memory_type=isa.MEM_OUT, x_size=1, y_size=1), isa.Load(), isa.Finish()]
    text = vta.disasm.disassemble(prog)
    for word in ("LOAD.INP", "GEMM", "ALU.SHR", "imm=8", "STORE.OUT", "NOP", "FINISH",
                 "push_next", "pop_prev"):
        assert word in text
    assert vta.disasm.disassemble(isa.encode_program(prog, env), env) == text
