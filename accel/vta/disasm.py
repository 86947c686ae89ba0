"""Readable listings of VTA programs (instructions and micro-ops)."""
from __future__ import annotations

from . import isa

_STAGE = {1: "load", 2: "compute", 3: "store"}


def _deps(insn) -> str:
    flags = [name for name, on in (("pop_prev", insn.pop_prev_dep), ("pop_next", insn.pop_next_dep),
                                   ("push_prev", insn.push_prev_dep),
                                   ("push_next", insn.push_next_dep)) if on]
    return " ".join(flags)


def mnemonic(insn) -> str:
    """Short opcode name used in listings, events and traces (``LOAD.INP``, ``ALU.SHR``, ``NOP``)."""
    cls = type(insn)
    if cls in (isa.Load, isa.Store):
        if insn.x_size == 0:
            return "NOP"
        return f"{'LOAD' if cls is isa.Load else 'STORE'}.{isa.MEM_NAMES.get(insn.memory_type, '?')}"
    if cls is isa.Gemm:
        return "GEMM.RESET" if insn.reset_reg else "GEMM"
    if cls is isa.Alu:
        return f"ALU.{isa.ALU_NAMES.get(insn.alu_opcode, '?')}"
    return "FINISH"


def format_insn(insn, index: int | None = None) -> str:
    cls = type(insn)
    head = f"{index:6d}  " if index is not None else ""
    name = mnemonic(insn)
    stage = _STAGE[isa.stage_of(insn)]
    if cls in (isa.Load, isa.Store):
        if insn.x_size == 0:
            body = f"({stage} {isa.MEM_NAMES.get(insn.memory_type, '?')})"
        else:
            pads = (insn.y_pad_0, insn.y_pad_1, insn.x_pad_0, insn.x_pad_1)
            body = (f"sram={insn.sram_base:#06x} dram={insn.dram_base:#010x} "
                    f"y={insn.y_size} x={insn.x_size} stride={insn.x_stride}")
            if any(pads):
                body += f" pad(y0,y1,x0,x1)={pads}"
    elif cls in (isa.Gemm, isa.Alu):
        body = (f"uop[{insn.uop_bgn}:{insn.uop_end}] loop {insn.iter_out}x{insn.iter_in} "
                f"dst+={insn.dst_factor_out},{insn.dst_factor_in} "
                f"src+={insn.src_factor_out},{insn.src_factor_in}")
        if cls is isa.Gemm:
            body += f" wgt+={insn.wgt_factor_out},{insn.wgt_factor_in}"
        elif insn.use_imm:
            body += f" imm={insn.imm}"
    else:
        body = ""
    deps = _deps(insn)
    line = f"{head}{name:<11}{body}"
    return f"{line:<96} | {deps}" if deps else line


def format_uop(uop, index: int | None = None) -> str:
    head = f"{index:6d}  " if index is not None else ""
    return f"{head}UOP dst={uop.dst_idx} src={uop.src_idx} wgt={uop.wgt_idx}"


def disassemble(program, env=None, *, uops: bool = False) -> str:
    """Listing of a Program, a sequence of instructions, or encoded bytes (``env`` needed)."""
    if isinstance(program, (bytes, bytearray, memoryview)):
        if env is None:
            raise ValueError("disassemble: env is required to decode bytes")
        insns = isa.decode_program(program, env)
    elif hasattr(program, "insns"):
        insns = program.insns
    else:
        insns = list(program)
    lines = [format_insn(insn, k) for k, insn in enumerate(insns)]
    if uops and hasattr(program, "uop_list"):
        lines.append("micro-ops (DRAM image):")
        lines += [format_uop(u, k) for k, u in enumerate(program.uop_list())]
    return "\n".join(lines)
