"""Exceptions raised by the VTA model.  Every message names the parameter, field, module or
instruction at fault, so that a failing program can be fixed without a debugger."""
from __future__ import annotations


class VTAError(Exception):
    """Base class of errors raised while building or simulating a VTA program."""


class ConfigError(VTAError, ValueError):
    """An inconsistent hardware configuration (the message names the parameter)."""


class EncodingError(VTAError, ValueError):
    """A field value that does not fit its bit width (the message names the field)."""


class HazardError(VTAError, ValueError):
    """A micro-kernel breaks VTA's two-deep write-after-write rule on accumulator indices."""


class ProgramError(VTAError, ValueError):
    """A malformed instruction (out-of-range SRAM/DRAM access, wrong memory type, ...)."""


class DeadlockError(VTAError):
    """No module can make progress.

    ``blocked`` holds one ``(module, insn_index, opcode, waiting_on)`` tuple per stuck module,
    ``cycle`` the simulated time at which progress stopped.
    """

    def __init__(self, message: str, blocked=(), cycle: int = 0):
        super().__init__(message)
        self.blocked = tuple(blocked)
        self.cycle = cycle


class CompileError(VTAError, ValueError):
    """``vta.build`` cannot map a schedule onto VTA.  The message names the compiler pass, the
    te stage and why (a buffer over SRAM capacity, a nest that is not tensorizable, a DMA that
    is not 2-D, an ALU op VTA lacks, ...)."""

    def __init__(self, pass_name: str, stage: str | None, reason: str):
        where = f" stage {stage!r}" if stage else ""
        super().__init__(f"vta.build [{pass_name}]{where}: {reason}")
        self.pass_name, self.stage, self.reason = pass_name, stage, reason
