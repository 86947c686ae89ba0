"""Accelerators modelled by the workbench.

``accel.vta`` re-creates VTA (Moreau et al.): a parametrizable hardware model, the two-level
task/micro-op ISA, VTA's JIT runtime, and a functional plus cycle-level simulator.  This package
is self-contained (numpy only) so it can be used before the compiler core exists.
"""
