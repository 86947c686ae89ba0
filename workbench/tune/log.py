"""Tuning logs: one JSON object per line, appended, flushed and fsync'd per batch.

A record:
    {"version": "wb-tune/1", "workload": "[\"kernels.matmul.cpu_template\", [1024, 1024, 1024]]",
     "task": "kernels.matmul.cpu_template", "target": "llvm -mcpu=znver4",
     "config": {"index": 812, "entity": [["tile_y", "sp", [-1, 4]], ...]},
     "trace": [{"primitive": "split", ...}, ...],              # the schedule, replayable
     "result": {"costs": [...], "error_no": 0, "error_name": "NO_ERROR", "error_msg": "",
                "all_cost": 0.21, "build_time": 0.06},
     "measure": {"number": 4, "repeat": 3, "min_repeat_ms": 0, "num_threads": 1, ...},
     "timestamp": 1764560000.0}

Reading tolerates a truncated last line (a run killed mid-write) and reports it; any other
unreadable line is reported too and skipped. Resuming = reading the records of the same workload
and target: those configs are not measured again.
"""
from __future__ import annotations

import contextvars
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field

VERSION = "wb-tune/1"


def make_record(task, config, result, target: str, measure: dict | None = None,
                predicted: float | None = None) -> dict:
    """One log line. `predicted`: the cost model's score for this config when it was chosen
    (higher is better; a rank model's score is only meaningful relative to other scores)."""
    trace = json.loads(result.trace) if result.trace else None
    extra = {} if predicted is None else {"predicted": float(predicted)}
    return {"version": VERSION, "workload": task.workload_key, "task": task.name, **extra,
            "target": target, "config": config.to_json(), "trace": trace,
            "result": {"costs": list(result.costs), "error_no": int(result.error_no),
                       "error_name": result.error_name, "error_msg": result.error_msg,
                       "all_cost": result.all_cost, "build_time": result.build_time},
            "measure": measure or {}, "timestamp": result.timestamp}


def record_cost(rec: dict) -> float:
    """Median seconds per call of a record; inf for a failed one."""
    r = rec.get("result", {})
    costs = r.get("costs") or []
    if r.get("error_no", 1) != 0 or not costs:
        return math.inf
    c = sorted(costs)
    n = len(c)
    return c[n // 2] if n % 2 else 0.5 * (c[n // 2 - 1] + c[n // 2])


class LogWriter:
    """Appends records to a JSON-lines file; each `append` is flushed and fsync'd, so a SIGKILL
    loses at most the batch being written (and leaves at worst one truncated line)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, exist_ok=True)
        self._fixup_tail()
        self._f = open(self.path, "a", encoding="utf-8")

    def _fixup_tail(self):
        """A previous run killed mid-line leaves no trailing newline: end that line, so the next
        record starts on its own line (the truncated one is then skipped on read)."""
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return
        with open(self.path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")

    def append(self, records):
        if not records:
            return
        self._f.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class LogContents:
    records: list = field(default_factory=list)
    bad_lines: list = field(default_factory=list)      # (line number, reason)


def load(path, warn: bool = True) -> LogContents:
    """Every readable record of a log file (missing file: none)."""
    out = LogContents()
    path = os.fspath(path)
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or "workload" not in rec or "config" not in rec:
                raise ValueError("not a tuning record")
            out.records.append(rec)
        except ValueError as e:
            last = n == len(lines) or not line.endswith("\n") or all(not x.strip() for x in lines[n:])
            reason = "truncated last record (a run was killed while writing)" if last else str(e)[:80]
            out.bad_lines.append((n, reason))
    if warn and out.bad_lines:
        warnings.warn(f"{path}: skipped {len(out.bad_lines)} unreadable line(s): "
                      + "; ".join(f"line {n}: {why}" for n, why in out.bad_lines[:3]),
                      stacklevel=2)
    return out


def records_for(path_or_records, task, target: str | None = None) -> list:
    recs = path_or_records if isinstance(path_or_records, list) else load(path_or_records).records
    key = task.workload_key
    return [r for r in recs if r.get("workload") == key and (target is None or r.get("target") == target)]


def best_record(path_or_records, task, target: str | None = None):
    best, cost = None, math.inf
    for r in records_for(path_or_records, task, target):
        c = record_cost(r)
        if c < cost:
            best, cost = r, c
    return best


def best_config(log, task, target: str | None = None):
    """The fastest correct config of `task` in `log` (a path or a list of records), as a
    ConfigEntity of task.space; None if the log has no successful record for it."""
    rec = best_record(log, task, target)
    if rec is None:
        return None
    return _config_of(task, rec)


def measure_result(rec: dict, index: int):
    """The MeasureResult a logged record stands for (resume and replay read logs back this way)."""
    from .errors import MeasureErrorNo
    from .measure import MeasureResult
    res = rec["result"]
    return MeasureResult(index, tuple(res.get("costs") or ()),
                         res.get("error_no", int(MeasureErrorNo.UNKNOWN_ERROR)),
                         res.get("error_msg", ""), timestamp=rec.get("timestamp", 0.0))


def _config_of(task, rec):
    cfg = rec["config"]
    try:
        c = task.space.get(cfg["index"])
        if c.values() == {n: v for n, _, v in cfg["entity"]}:
            return c
    except (IndexError, KeyError):
        pass
    return task.space.from_values({n: v for n, _, v in cfg["entity"]})   # the space was extended


_ACTIVE = contextvars.ContextVar("workbench_tune_history", default=None)


class apply_history_best:
    """`with tune.apply_history_best("log.jsonl"): f = task.build()` builds each task with its
    best logged config (task.build() outside the context needs an explicit config). Like AutoTVM's,
    failed records are ignored; a task missing from the log falls back to config 0 with a warning."""

    def __init__(self, log):
        self.records = log if isinstance(log, list) else load(log).records
        self._token = None

    def query(self, task):
        rec = best_record(self.records, task)
        if rec is None:
            warnings.warn(f"Cannot find a tuned config for {task.workload_key} in the log; using "
                          "the fallback config 0 (expect it to be slow)", stacklevel=3)
            return task.space.get(0)
        return _config_of(task, rec)

    def __enter__(self):
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc):
        _ACTIVE.reset(self._token)

    @staticmethod
    def current():
        return _ACTIVE.get()


def now() -> float:
    return time.time()
