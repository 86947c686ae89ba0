"""Learned-cost-model tuning (AutoTVM's design and names, and past it). See DESIGN.md "Tuning".

    task = tune.Task(kernels.matmul.cpu_template, args=(1024, 1024, 1024))
    tune.XGBTuner(task).tune(n_trial=64, log="matmul.jsonl")
    f = task.build(tune.best_config("matmul.jsonl", task))
"""
from .errors import MeasureErrorNo
from .measure import DaskMeasure, LocalMeasure, MeasureOptions, MeasureResult
from .space import ConfigEntity, ConfigSpace, InstantiationError
from .task import Task

__all__ = ["ConfigEntity", "ConfigSpace", "DaskMeasure", "InstantiationError", "LocalMeasure",
           "MeasureErrorNo", "MeasureOptions", "MeasureResult", "Task"]
