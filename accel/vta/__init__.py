"""VTA: a parametrizable deep-learning accelerator, its ISA, JIT runtime and simulators.

    from accel import vta
    env = vta.Env.default()                    # accel/configs/default.json (Pynq, 1x16x16)
    rt = vta.Runtime(env)                      # VTA's JIT runtime: DMA, tokens, micro-kernels
    prog = rt.flush()                          # or rt.synchronize() to flush and run
    out = vta.Simulator(env).run(prog, inputs) # .outputs, .stats, .events
    prog = vta.build(s, [A, W, C], env)        # the compiler: a te schedule -> Program
"""
from . import disasm, isa
from .env import Env
from .errors import (CompileError, ConfigError, DeadlockError, EncodingError, HazardError,
                     ProgramError, VTAError)
from .program import DramBuffer, Program
from .runtime import Runtime
from .sim.simulator import SimResult, Simulator, Stats, TokenLeakWarning
from .sim.timing import Event
from .compiler import build, lower

__all__ = ["Env", "Runtime", "Simulator", "SimResult", "Stats", "Event", "Program",
           "DramBuffer", "DeadlockError", "HazardError", "ConfigError", "EncodingError",
           "ProgramError", "VTAError", "CompileError", "build", "lower", "TokenLeakWarning", "isa", "disasm"]
