"""Learned-cost-model tuning (AutoTVM's design and names, and past it). See DESIGN.md "Tuning".

    task = tune.Task(kernels.matmul.cpu_template, args=(1024, 1024, 1024))
    tune.XGBTuner(task).tune(n_trial=64, log="matmul.jsonl", callbacks=[tune.progress_bar(64)])
    f = task.build(tune.best_config("matmul.jsonl", task))

Modules: space (knobs, ConfigSpace), task, generated (spaces without a template), measure +
workers + jobs (isolated build/run), log (JSON lines, resume, best), tuner (loop, Random/Grid/GA),
features + model_based (XGBoost cost model, simulated annealing, transfer), callbacks.
"""
from .callbacks import RecordStream, log_to, progress_bar
from .errors import MeasureErrorNo
from .log import apply_history_best, best_config, load as load_log
from .measure import DaskMeasure, LocalMeasure, MeasureOptions, MeasureResult
from .model_based import SimulatedAnnealingOptimizer, XGBoostCostModel, XGBTuner
from .space import ConfigEntity, ConfigSpace, InstantiationError
from .task import Task
from .tuner import GATuner, GridTuner, RandomTuner, Tuner

__all__ = ["ConfigEntity", "ConfigSpace", "DaskMeasure", "GATuner", "GridTuner",
           "InstantiationError", "LocalMeasure", "MeasureErrorNo", "MeasureOptions",
           "MeasureResult", "RandomTuner", "RecordStream", "SimulatedAnnealingOptimizer", "Task",
           "Tuner", "XGBTuner", "XGBoostCostModel", "apply_history_best", "best_config",
           "load_log", "log_to", "progress_bar"]
