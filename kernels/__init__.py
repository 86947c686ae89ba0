"""The operator catalog: for each operator a te compute description (`compute`, and `make` that
creates the placeholders too), an exact numpy `reference`, and FLOP counts; `registry` lists them
all with small test parameters, `workloads` holds the papers' layer tables.

    import kernels
    inputs, C = kernels.matmul.make(512, 512, 512)
    op = kernels.registry.get("conv2d")
    kernels.workloads.RESNET18_CONV2D[5]      # C6
"""
from . import (add, batch_matmul, bias_add, conv2d, conv2d_transpose, dense, depthwise_conv2d,
               matmul, pool2d, relu, softmax)
from . import registry, workloads
from .registry import OPERATORS, Operator

__all__ = ["add", "batch_matmul", "bias_add", "conv2d", "conv2d_transpose", "dense",
           "depthwise_conv2d", "matmul", "pool2d", "relu", "softmax", "registry", "workloads",
           "OPERATORS", "Operator"]
