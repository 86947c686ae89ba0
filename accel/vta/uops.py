"""Micro-kernels: recording (VTAUopLoopBegin / VTAUopPush / VTAUopLoopEnd), the hazard rule,
and the uop SRAM ring cache of VTA's runtime."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import isa
from .errors import HazardError, ProgramError

MODE_GEMM, MODE_ALU = 0, 1


@dataclass(frozen=True)
class UopKernel:
    """A recorded micro-kernel: at most two affine loops around a sequence of micro-ops.

    All uops share mode, reset and ALU opcode/immediate, as in VTA's UopKernel.
    ``loops`` holds ``(extent, dst_factor, src_factor, wgt_factor)`` outermost first.
    """
    mode: int
    reset: int
    opcode: int
    use_imm: int
    imm: int
    loops: tuple
    uops: tuple
    words: np.ndarray  # the encoded uint32 image a LOAD UOP copies into SRAM

    def __len__(self) -> int:
        return len(self.uops)

    def loop_fields(self) -> dict:
        """iter_out/iter_in and index factors of the GEMM/ALU instruction running this kernel.

        GEMM maps loop[0] -> outer, loop[1] -> inner; a single ALU loop goes to the inner loop,
        as VTA's PushALUUop does.
        """
        loops = list(self.loops)
        if self.mode == MODE_ALU and len(loops) == 1:
            loops = [(1, 0, 0, 0)] + loops
        loops += [(1, 0, 0, 0)] * (2 - len(loops))
        (eo, do, so, wo), (ei, di, si, wi) = loops
        out = dict(iter_out=eo, iter_in=ei, dst_factor_out=do, dst_factor_in=di,
                   src_factor_out=so, src_factor_in=si)
        if self.mode == MODE_GEMM:
            out.update(wgt_factor_out=wo, wgt_factor_in=wi)
        return out


class KernelRecorder:
    """Receives the VTAUop* calls of a micro-kernel's ``finit`` closure."""

    def __init__(self, env, name: str):
        self.env = env
        self.name = name
        self._loops: list = []
        self._open = 0
        self._uops: list = []
        self._attrs = None

    def uop_loop_begin(self, extent: int, dst_factor: int, src_factor: int, wgt_factor: int = 0):
        if self._uops:
            # UopKernel::PushLoopBegin checks the uop list is empty: the loops of a kernel
            # enclose all of its uops, so a loop opened after a push has no encoding.
            raise ProgramError(f"micro-kernel {self.name}: uop_loop_begin after {len(self._uops)} "
                               "uop(s) were pushed; open the uop loops before the first uop_push")
        if len(self._loops) == 2:
            raise ProgramError(f"micro-kernel {self.name}: at most 2 uop loops (VTAUopLoopBegin)")
        if extent < 1:
            raise ProgramError(f"micro-kernel {self.name}: loop extent={extent} must be >= 1")
        self._loops.append((int(extent), int(dst_factor), int(src_factor), int(wgt_factor)))
        self._open += 1

    def uop_loop_end(self):
        if self._open == 0:
            raise ProgramError(f"micro-kernel {self.name}: uop_loop_end without uop_loop_begin")
        self._open -= 1

    def uop_push(self, mode: int, reset: int, dst: int, src: int, wgt: int,
                 opcode: int = 0, use_imm: int = 0, imm: int = 0):
        attrs = (int(mode), int(reset), int(opcode), int(use_imm), int(imm))
        if self._attrs is None:
            self._attrs = attrs
        elif attrs != self._attrs:
            raise ProgramError(f"micro-kernel {self.name}: uop {len(self._uops)} has "
                               f"(mode, reset, opcode, use_imm, imm)={attrs}, the kernel has "
                               f"{self._attrs}; all uops of a kernel must agree")
        # VTA's UopKernel::VerifyDep: the II=1 pipeline has no read-after-write check on acc,
        # so a uop may not write an index written by either of the two uops before it.  Like
        # VerifyDep this looks at the uop list only, not across loop iterations: TVM's
        # matrix_multiply_opt kernel (one uop under loops (16,1,0,16), (16,0,1,1)) writes the
        # same accumulator on consecutive iterations and runs on the hardware.
        for back, prev in enumerate(reversed(self._uops[-2:]), start=1):
            if prev.dst_idx == dst:
                raise HazardError(
                    f"micro-kernel {self.name}: uop {len(self._uops)} writes acc[{dst}], which "
                    f"uop {len(self._uops) - back} also writes; a kernel may not write a dst_idx "
                    f"used by its previous 2 uops (put an output axis innermost)")
        self._uops.append(isa.Uop(int(dst), int(src), int(wgt)))

    def finish(self) -> UopKernel:
        if self._open:
            raise ProgramError(f"micro-kernel {self.name}: {self._open} uop loop(s) left open")
        if not self._uops:
            raise ProgramError(f"micro-kernel {self.name}: records no micro-op")
        if len(self._uops) > self.env.UOP_BUFF_DEPTH:
            raise ProgramError(f"micro-kernel {self.name}: {len(self._uops)} uops exceed the uop "
                               f"buffer depth {self.env.UOP_BUFF_DEPTH}")
        mode, reset, opcode, use_imm, imm = self._attrs
        return UopKernel(mode, reset, opcode, use_imm, imm, tuple(self._loops),
                         tuple(self._uops), isa.uops_to_array(self._uops, self.env))


class UopCache:
    """The uop SRAM as a ring: kernels are appended at ``end``; on overflow the ring wraps to 0
    and every resident kernel overlapping the new one is evicted (VTA's UopQueue)."""

    def __init__(self, depth: int):
        self.depth = depth
        self.end = 0
        self.resident: dict = {}  # key -> (bgn, end)

    def place(self, key, size: int):
        """Return ``(bgn, end, newly_placed)``; a newly placed kernel needs a LOAD UOP."""
        if key in self.resident:
            bgn, end = self.resident[key]
            return bgn, end, False
        if size > self.depth:
            raise ProgramError(f"uop cache: kernel of {size} uops exceeds depth {self.depth}")
        if self.end + size > self.depth:
            self.end = 0
        bgn, end = self.end, self.end + size
        self.resident = {k: (b, e) for k, (b, e) in self.resident.items() if e <= bgn or b >= end}
        self.resident[key] = (bgn, end)
        self.end = end
        return bgn, end, True

    def clear(self) -> None:
        self.end = 0
        self.resident.clear()
