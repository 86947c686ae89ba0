"""The graph level: import a model, optimize it (constant and batch-norm folding, layout
transformation, operator fusion, dead-node removal), plan its memory, compile every fused group
with the workbench compiler and run it.

    from workbench import graph
    g = graph.from_onnx("resnet18.onnx")        # or graph.from_torch(module, example_inputs)
    g = graph.optimize(g, target)               # print(g) shows the fused groups
    tasks = graph.extract_tasks(g, target)
    mod = graph.build(g, target=None)           # or target=accel.vta.Env.default()
    out = mod.run({"input": x}); print(mod.time())
"""
from .builder import GraphBuilder
from .executor import GraphModule, Profile, build
from .frontend import SUPPORTED, from_onnx, from_torch
from .interpreter import evaluate
from .ir import Graph, GraphError, Node
from .memory import MemoryPlan, plan_memory
from .ops import OPS, Pattern
from .tasks import extract_tasks, tune_graph
from .passes import (PASSES, alter_layout, dead_node_elimination, fold_batch_norm, fold_constants,
                     fuse_ops, optimize, unfuse, winograd_convs)

__all__ = ["Graph", "GraphBuilder", "Node", "GraphError", "GraphModule", "Profile", "MemoryPlan", "OPS", "Pattern",
           "PASSES", "SUPPORTED", "evaluate", "extract_tasks", "tune_graph", "from_onnx", "from_torch", "optimize", "build", "plan_memory",
           "fold_constants", "fold_batch_norm", "alter_layout", "winograd_convs", "fuse_ops", "unfuse",
           "dead_node_elimination"]
