"""Tuning callbacks: `callback(tuner, configs, results)` after every measured batch (AutoTVM's
signature, with ConfigEntity and MeasureResult lists).

- `progress_bar(n_trial)`: tqdm.auto (a widget in Jupyter, text on stderr in a terminal);
- `log_to(logger)`: one logging line per batch;
- `RecordStream()`: the live-record hook. The tuner thread pushes every log record into it; other
  threads (the UI dashboard) either `subscribe(fn)` (fn(record) is then called on the tuner's
  thread; keep it short) or pull with `get(timeout)` / `drain()`; `records` is a snapshot copy.
  It is thread-safe; `close()` (called when tuning ends) wakes pullers with None.
"""
from __future__ import annotations

import logging
import math
import queue
import threading

from .log import make_record


def progress_bar(total: int, desc: str = "tuning", **tqdm_kwargs):
    from tqdm.auto import tqdm
    bar = tqdm(total=total, desc=desc, **tqdm_kwargs)

    def callback(tuner, configs, results):
        bar.update(tuner.trials_done - bar.n)     # resumed trials count too
        best = tuner.best_cost
        if best < math.inf and tuner.task.flop:
            bar.set_postfix_str(f"best {tuner.task.flop / best / 1e9:.1f} GFLOP/s", refresh=False)
        if tuner.trials_done >= total or tuner.finished:
            bar.close()
    callback.close = bar.close
    return callback


def log_to(logger: logging.Logger | None = None, level=logging.INFO):
    logger = logger or logging.getLogger("workbench.tune")

    def callback(tuner, configs, results):
        ok = sum(r.ok for r in results)
        best = tuner.best_cost
        gf = tuner.task.flop / best / 1e9 if best < math.inf and tuner.task.flop else float("nan")
        logger.log(level, "%s: %d trials, batch %d ok / %d, best %.2f GFLOP/s (config %s)",
                   tuner.task.name, tuner.trials_done, ok, len(results), gf, tuner.best_index)
    return callback


class RecordStream:
    """A thread-safe live feed of log records (see the module docstring)."""

    def __init__(self, maxsize: int = 0):
        self._lock = threading.Lock()
        self._subs: list = []
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._records: list = []
        self.closed = False

    def subscribe(self, fn):
        """fn(record) for every future record; returns an unsubscribe function."""
        with self._lock:
            self._subs.append(fn)

        def unsubscribe():
            with self._lock:
                if fn in self._subs:
                    self._subs.remove(fn)
        return unsubscribe

    def push(self, record: dict):
        with self._lock:
            self._records.append(record)
            subs = list(self._subs)
        self._queue.put(record)
        for fn in subs:
            try:
                fn(record)
            except Exception:     # a broken observer must not stop the tuning
                logging.getLogger("workbench.tune").exception("RecordStream subscriber failed")

    def __call__(self, tuner, configs, results):
        for cfg, res in zip(configs, results):
            self.push(make_record(tuner.task, cfg, res, tuner.target, tuner.measure_description))

    def get(self, timeout: float | None = None):
        """The next record (None when closed, queue.Empty on timeout)."""
        return self._queue.get(timeout=timeout)

    def drain(self) -> list:
        out = []
        while True:
            try:
                r = self._queue.get_nowait()
            except queue.Empty:
                return [x for x in out if x is not None]
            out.append(r)

    @property
    def records(self) -> list:
        with self._lock:
            return list(self._records)

    def close(self):
        if not self.closed:
            self.closed = True
            self._queue.put(None)
