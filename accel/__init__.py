"""Accelerators modelled by the workbench.

``accel.vta`` re-creates VTA (Moreau et al.): a parametrizable hardware model, the two-level
task/micro-op ISA, VTA's JIT runtime, a functional plus cycle-level simulator, and the compiler
(``accel.vta.build``) that lowers a workbench schedule to VTA programs.  The ISA, runtime and
simulators need only numpy; the compiler sits on the workbench core (te, schedule, lower).
"""
