"""Measurement error codes: AutoTVM's numbers (so logs compare), each with a name in the log."""
from __future__ import annotations

from enum import IntEnum


class MeasureErrorNo(IntEnum):
    NO_ERROR = 0
    INSTANTIATION_ERROR = 1     # the template / a knob rejected the config, or a primitive was illegal
    COMPILE_HOST = 2            # lowering or LLVM failed
    COMPILE_DEVICE = 3          # (kept for AutoTVM's numbering; no device compiler here)
    RUNTIME_DEVICE = 4          # the kernel crashed its worker process (segfault, abort)
    WRONG_ANSWER = 5            # outputs differ from the te compute's reference
    BUILD_TIMEOUT = 6
    RUN_TIMEOUT = 7
    UNKNOWN_ERROR = 8
