"""The VTA IR: statements that replace recognised loop nests of the lowered schedule.

Host loops, virtual-thread loops (``thread_binding`` annotation) and SRAM ``Allocate``s stay core
IR nodes; the nests that VTA executes become one of these frozen statements.  Indices are kept
as affine forms over the loop variables (``Affine``), which is what VTA's 2-D DMA, micro-op
loops and micro-op indices can express.  Printing a statement shows the intrinsic TVM's VTA
lowering would call (VTALoadBuffer2D, VTAStoreBuffer2D, VTAPushGEMMOp, VTAPushALUOp).
"""
from __future__ import annotations

from dataclasses import dataclass

from workbench.ir import stmt as S
from workbench.ir.printer import expr_str

from .. import isa


@dataclass(frozen=True, eq=False)
class Affine:
    """``const + sum(coef * var)`` over loop variables."""
    const: int
    terms: tuple  # ((Var, coef), ...)

    def at(self, env: dict) -> int:
        return self.const + sum(c * env[v] for v, c in self.terms)

    def coef(self, var) -> int:
        for v, c in self.terms:
            if v is var:
                return c
        return 0

    def base(self, env: dict, inner: set) -> int:
        """The value with the variables in ``inner`` at 0 and the rest taken from ``env``."""
        return self.const + sum(c * env[v] for v, c in self.terms if v not in inner)

    def __str__(self):
        parts = [f"{c}*{v.name}" if c != 1 else v.name for v, c in self.terms]
        if self.const or not parts:
            parts.append(str(self.const))
        return " + ".join(parts).replace(".", "_")


def _loops(loops) -> str:
    return ", ".join(f"{v.name.replace('.', '_')}:{e}" for v, e in loops)


@dataclass(frozen=True, eq=False, repr=False)
class DmaCopy(S.Stmt):
    """A 2-D DMA between DRAM (a function argument) and an SRAM buffer.

    ``loops`` are the element loops of the copy (outermost first; the lane loops of one element
    are implied); ``cond`` is where a padded load reads DRAM (elsewhere it writes zeros).
    """
    direction: str          # "load" | "store"
    stage: str
    memory_type: int
    sram: S.Buffer
    dram: S.Buffer
    loops: tuple
    sram_elem: Affine
    dram_elem: Affine
    cond: object = None
    tokens: str = ""        # filled by vta.build: the dependency tokens its executions carry

    @property
    def queue(self) -> int:
        """Pipeline stage of the instruction: load 1 (INP/WGT), compute 2 (ACC), store 3."""
        if self.direction == "store":
            return 3
        return 1 if self.memory_type in (isa.MEM_INP, isa.MEM_WGT) else 2

    def __repr__(self):
        mem = isa.MEM_NAMES[self.memory_type]
        pad = f", pad where {expr_str(self.cond)}" if self.cond is not None else ""
        if self.direction == "load":
            return (f"VTALoadBuffer2D({self.sram.name}[{self.sram_elem}] <- {self.dram.name}"
                    f"[{self.dram_elem}], {mem}, over [{_loops(self.loops)}]{pad})"
                    f"  # queue {self.queue}{self.tokens}")
        return (f"VTAStoreBuffer2D({self.dram.name}[{self.dram_elem}] <- {self.sram.name}"
                f"[{self.sram_elem}], OUT, over [{_loops(self.loops)}])  # queue 3{self.tokens}")


@dataclass(frozen=True, eq=False, repr=False)
class UopKernel(S.Stmt):
    """A GEMM, GEMM reset or ALU micro-kernel: the first two ``loops`` become the instruction's
    uop loops (TVM's FoldUopLoop), the others are unrolled into micro-ops."""
    kind: str               # "gemm" | "reset" | "alu"
    stage: str
    dst: S.Buffer
    loops: tuple
    dst_elem: Affine
    src: S.Buffer | None = None
    src_elem: Affine | None = None
    wgt: S.Buffer | None = None
    wgt_elem: Affine | None = None
    alu_opcode: int = 0
    use_imm: int = 0
    imm: int = 0
    tokens: str = ""

    queue = 2

    def __repr__(self):
        folded, unrolled = self.loops[:2], self.loops[2:]
        where = f"uop loops [{_loops(folded)}], unrolled [{_loops(unrolled)}]"
        if self.kind == "gemm":
            return (f"VTAPushGEMMOp({self.dst.name}[{self.dst_elem}] += {self.src.name}"
                    f"[{self.src_elem}] . {self.wgt.name}[{self.wgt_elem}]^T, {where})  # queue 2"
                    f"{self.tokens}")
        if self.kind == "reset":
            return (f"VTAPushGEMMOp(reset {self.dst.name}[{self.dst_elem}], {where})  # queue 2"
                    f"{self.tokens}")
        op = isa.ALU_NAMES[self.alu_opcode]
        rhs = f"imm={self.imm}" if self.use_imm else f"{self.src.name}[{self.src_elem}]"
        return (f"VTAPushALUOp({op} {self.dst.name}[{self.dst_elem}], {rhs}, {where})"
                f"  # queue 2{self.tokens}")


QUEUE_NAMES = {(1, 2): "l2g", (2, 1): "g2l", (3, 2): "s2g", (2, 3): "g2s"}


def token_summary(runs: int, pops, pushes) -> str:
    """'; pop l2g 16/16, push g2l 15/16': how many of a statement's ``runs`` executions pop or
    push each token queue (TVM prints coproc_dep_pop/push around the statement instead)."""
    parts = [f"pop {QUEUE_NAMES[q]} {n}/{runs}" for q, n in sorted(pops.items())]
    parts += [f"push {QUEUE_NAMES[q]} {n}/{runs}" for q, n in sorted(pushes.items())]
    return "; " + ", ".join(parts) if parts else ""
