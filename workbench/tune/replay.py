"""Replaying recorded measurements: study search without timing noise and without compiling.

    table = tune.load_log("results/tuning_replay/mm.jsonl").records
    task = tune.Task(kernels.matmul.cpu_template, args=(1024, 1024, 1024))
    replay = ReplayMeasure(task, table)            # restricts task.space to the recorded configs
    tune.XGBTuner(task, seed=0).tune(64, measure=replay)

`ReplayMeasure.measure_batch` returns each config's recorded costs (a failed record stays failed).
What is not in the table cannot be measured, so the space is restricted to the table: a
`multi_filter` makes every other config invalid, and sampling, annealing and enumeration skip it
(a tuner sees the table as the whole space). Asking for a config outside the table anyway is an
error, never a made-up cost. This is a replay, not live tuning: costs do not vary between runs.
"""
from __future__ import annotations

from .log import _config_of, measure_result, records_for
from .measure import MeasureResult


class ReplayMeasure:
    """A measure (as LocalMeasure's `measure_batch`/`describe`/`close`) answering from a table of
    records of `task`. `restrict=True` adds the filter that limits `task.space` to the table."""

    def __init__(self, task, records, restrict: bool = True):
        self.table: dict[int, MeasureResult] = {}
        for r in records_for(records, task):
            idx = _config_of(task, r).index
            self.table[idx] = measure_result(r, idx)
        if not self.table:
            raise ValueError(f"ReplayMeasure: no records of {task.workload_key} in the table "
                             "(record it first: benchmarks/tuning_replay.py --record)")
        if restrict and len(self.table) < len(task.space):
            table = self.table
            task.space.multi_filter(lambda cfg: cfg.index in table)

    @property
    def best_cost(self) -> float:
        return min(r.cost for r in self.table.values())

    def describe(self) -> dict:
        return {"kind": "ReplayMeasure", "configs": len(self.table)}

    def measure_batch(self, task, indices) -> list[MeasureResult]:
        out = []
        for i in indices:
            r = self.table.get(int(i))
            if r is None:
                raise KeyError(f"config {i} is not in the replay table ({len(self.table)} configs); "
                               "a tuner must stay in the restricted space")
            out.append(r)
        return out

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
