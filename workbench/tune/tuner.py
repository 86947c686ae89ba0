"""Tuners: the measure/log/resume loop (`Tuner.tune`) and the model-free ones.

    tuner = tune.RandomTuner(task, seed=0)
    tuner.tune(n_trial=64, log="matmul.jsonl", callbacks=[tune.progress_bar(64)])

`n_trial` counts every config of this task and target already in the log: re-running the same
call after an interruption (even SIGKILL) measures only the rest, never a logged config again.
A tuner's `next_batch(n)` proposes unvisited config indices; `update(configs, results)` learns.
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np

from .log import LogWriter, _config_of, make_record, measure_result, record_cost, records_for
from .measure import LocalMeasure, MeasureOptions, MeasureResult


class Tuner:
    def __init__(self, task, seed: int | None = None):
        self.task = task
        self.space = task.space
        self.rng = np.random.default_rng(seed)
        self.visited: set[int] = set()
        self.best_cost = math.inf
        self.best_index: int | None = None
        self.best_trial = 0
        self.trials_done = 0
        self.finished = False
        self.history: list[tuple[int, float]] = []     # (config index, cost) per trial, in order
        self.target = str(task.target)
        self.measure_description: dict = {}
        self.time_choosing = 0.0                       # seconds spent in next_batch
        # config index -> the cost model's score when it chose that config (model-based tuners);
        # logged beside the measurement so the dashboard can show predicted vs measured
        self.predicted: dict[int, float] = {}

    # -- what subclasses provide ------------------------------------------------------------------
    def next_batch(self, n: int) -> list[int]:
        raise NotImplementedError

    def update(self, indices: list[int], results: list[MeasureResult]):
        """Learn from measured configs (model-based tuners refit here)."""

    def has_next(self) -> bool:
        return len(self.visited) < len(self.space)

    # -- the loop ---------------------------------------------------------------------------------
    def _record_outcome(self, index: int, cost: float):
        self.visited.add(index)
        self.trials_done += 1
        self.history.append((index, cost))
        if cost < self.best_cost:
            self.best_cost, self.best_index, self.best_trial = cost, index, self.trials_done

    def resume(self, records: list):
        """Mark logged configs of this task visited and learn from them."""
        idx, res, skipped = [], [], 0
        for r in records:
            try:
                cfg = _config_of(self.task, r)
            except (ValueError, KeyError, TypeError):   # the template's knobs changed since
                skipped += 1
                continue
            if cfg.index in self.visited:
                continue
            self._record_outcome(cfg.index, record_cost(r))
            idx.append(cfg.index)
            res.append(measure_result(r, cfg.index))
        if skipped:
            warnings.warn(f"{skipped} logged record(s) of {self.task.name} name configs its space no "
                          "longer has (the template changed); they are ignored", stacklevel=3)
        if idx:
            self.update(idx, res)
        return len(idx)

    def tune(self, n_trial: int, log=None, measure=None, measure_option: MeasureOptions | None = None,
             early_stopping: int | None = None, callbacks=(), batch_size: int | None = None):
        """Measure up to `n_trial` configs (counting those already in `log`); returns self.

        measure: a LocalMeasure / DaskMeasure (default: a LocalMeasure with `measure_option`,
        closed at the end). early_stopping: stop when the best has not improved for that many
        trials. callbacks: see callbacks.py. batch_size: configs chosen and measured together
        (default: the measure's `parallelism`, one build per builder process, AutoTVM's
        n_parallel; 8 for a measure without one). A model-based tuner refits after every batch, so
        smaller batches search better per trial (replayed Xeon tables, 40 seeds, median trials to
        95%: C9 25 at batch 2 against 45 at batch 8, matmul 31 against 41;
        benchmarks/tuning_replay.py --batch)."""
        if n_trial < 1:
            raise ValueError(f"n_trial must be >= 1, got {n_trial}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        own = measure is None
        measure = measure or LocalMeasure(measure_option)
        if batch_size is None:
            batch_size = max(1, int(getattr(measure, "parallelism", 8)))
        self.measure_description = measure.describe()
        writer = None
        self.finished = False
        try:
            if log is not None:
                self.resume(records_for(log, self.task, self.target))
                writer = LogWriter(log)
            while self.trials_done < n_trial and self.has_next():
                t0 = time.perf_counter()
                batch = self.next_batch(min(batch_size, n_trial - self.trials_done))
                self.time_choosing += time.perf_counter() - t0
                batch = [i for i in dict.fromkeys(batch) if i not in self.visited]
                if not batch:
                    break
                results = measure.measure_batch(self.task, batch)
                configs = [self.space.get(i) for i in batch]
                if writer is not None:
                    writer.append([make_record(self.task, c, r, self.target, self.measure_description,
                                               predicted=self.predicted.get(c.index))
                                   for c, r in zip(configs, results)])
                for i, r in zip(batch, results):
                    self._record_outcome(i, r.cost)
                self.update(batch, results)
                if early_stopping is not None and self.trials_done - self.best_trial >= early_stopping:
                    self.finished = True
                for cb in callbacks:
                    cb(self, configs, results)
                if self.finished:
                    break
        finally:
            self.finished = True
            if writer is not None:
                writer.close()
            if own:
                measure.close()
            for cb in callbacks:
                close = getattr(cb, "close", None)
                if close is not None:
                    close()
        return self

    def trials_to_reach(self, fraction: float, best: float | None = None) -> int | None:
        """The first trial whose running best is within `fraction` of `best` (speed ratio)."""
        best = self.best_cost if best is None else best
        run = math.inf
        for n, (_, c) in enumerate(self.history, 1):
            run = min(run, c)
            if run < math.inf and best / run >= fraction:
                return n
        return None


class RandomTuner(Tuner):
    """Uniformly random unvisited configs."""

    def next_batch(self, n):
        return self.space.sample(self.rng, n, exclude=self.visited)


class GridTuner(Tuner):
    """Configs in index order (first knob fastest)."""

    def __init__(self, task, seed=None):
        super().__init__(task, seed)
        self._it = self.space.enumerate()

    def next_batch(self, n):
        out = []
        for i in self._it:
            if i not in self.visited:
                out.append(i)
                if len(out) == n:
                    break
        return out


class GATuner(Tuner):
    """A genetic algorithm over knob choices: the parents are the `pop_size` fittest measured
    configs (so the elites always breed; unlike AutoTVM's, a config is never measured twice),
    two picked with probability proportional to fitness, uniform crossover per knob, per-knob
    mutation with `mutation_prob`."""

    def __init__(self, task, pop_size: int = 100, mutation_prob: float = 0.1, seed=None):
        super().__init__(task, seed)
        self.pop_size = min(pop_size, len(self.space))
        self.mutation_prob = mutation_prob
        self.scores: dict[int, float] = {}
        self._queue = self.space.sample(self.rng, self.pop_size)

    def next_batch(self, n):
        if len(self._queue) < n:
            self._queue += self._breed(max(n, self.pop_size))
        out, self._queue = self._queue[:n], self._queue[n:]
        if len(out) < n:
            out += self.space.sample(self.rng, n - len(out), exclude=self.visited | set(out))
        return out

    def update(self, indices, results):
        for i, r in zip(indices, results):
            self.scores[i] = (self.task.flop or 1.0) / r.cost if r.ok else 0.0

    def _breed(self, n):
        if not self.scores:
            return self.space.sample(self.rng, n, exclude=self.visited)
        ranked = sorted(self.scores, key=self.scores.get, reverse=True)[:self.pop_size]
        fit = np.array([self.scores[i] for i in ranked], dtype=np.float64)
        prob = fit / fit.sum() if fit.sum() > 0 else np.full(len(fit), 1 / len(fit))
        dims = self.space.dims
        out, tries = [], 0
        taken = set(self.visited)
        while len(out) < n and tries < 20 * n:
            tries += 1
            a, b = self.rng.choice(len(ranked), 2, p=prob)
            ka, kb = self.space.point2knob(ranked[a]), self.space.point2knob(ranked[b])
            child = [x if self.rng.random() < 0.5 else y for x, y in zip(ka, kb)]
            for j, d in enumerate(dims):
                if self.rng.random() < self.mutation_prob:
                    child[j] = int(self.rng.integers(d))
            idx = self.space.knob2point(child)
            if idx not in taken and self.space.is_valid(idx):
                taken.add(idx)
                out.append(idx)
        return out
