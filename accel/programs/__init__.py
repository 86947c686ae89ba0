"""Hand-built VTA programs (written against the runtime API, as TVM's lowering would emit).

- ``gemm``: blocked int8 GEMM, serial or double-buffered (two virtual threads).
- ``conv2d``: packed NCHW conv2d with a fused shift + clip ALU epilogue.
- ``layout``: packing to VTA's blocked layouts and numpy references.
- ``workloads``: ResNet-18 conv layers C1-C12.
"""
from . import conv2d, gemm, layout, workloads

__all__ = ["conv2d", "gemm", "layout", "workloads"]
