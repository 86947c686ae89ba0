"""The dashboard's input: one `TrialRecord` per measured configuration (no UI packages here).

A record comes from a JSON-lines log (one object per line) or from a tuner callback. The reader is
tolerant of field names so the tuner's log and this interface meet through one small adapter
(`TrialRecord.from_any`), never a second format:

    {"run": "xgb", "index": 7, "config": {"tile_i": [4, 64], "unroll": 1}, "gflops": 81.2,
     "cost": 0.00331, "error": null, "error_kind": null, "timestamp": 1764563000.1,
     "predicted": 77.0, "workload": {"op": "matmul", "params": {...}}, "trace": [...]}
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

_ALIASES = {
    "config": ("config", "knobs", "cfg", "params_config"),
    "gflops": ("gflops", "GFLOPS", "gflop_s"),
    "cost": ("cost", "seconds", "mean_cost", "latency", "costs"),
    "error": ("error", "error_msg", "err", "message"),
    "error_kind": ("error_kind", "error_type", "error_no", "kind"),
    "timestamp": ("timestamp", "time", "t", "wall_time"),
    "predicted": ("predicted", "prediction", "predicted_gflops", "score"),
    "index": ("index", "trial", "i"),
    "run": ("run", "tuner", "name"),
}


@dataclass(frozen=True)
class TrialRecord:
    run: str
    index: int
    config: dict
    gflops: float | None = None          # None for a failed trial
    cost: float | None = None            # seconds per call
    error: str | None = None
    error_kind: str | None = None
    timestamp: float = 0.0
    predicted: float | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.gflops is not None and math.isfinite(self.gflops)

    def to_json(self) -> str:
        d = asdict(self)
        d.update(d.pop("extra"))
        return json.dumps(d, default=_jsonable)

    @staticmethod
    def from_any(obj, *, run: str = "run", index: int = 0, flops: float | None = None) -> "TrialRecord":
        """From a dict (log line) or an object with attributes (a tuner's result)."""
        d = obj if isinstance(obj, dict) else {k: getattr(obj, k) for k in dir(obj)
                                                 if not k.startswith("_") and not callable(getattr(obj, k))}
        if isinstance(d.get("result"), dict) and isinstance(d.get("config"), dict):
            d = _from_tune_record(d, flops)

        def pick(key, default=None):
            for name in _ALIASES[key]:
                if name in d and d[name] is not None:
                    return d[name]
            return default
        cost = pick("cost")
        if isinstance(cost, (list, tuple)):
            cost = float(np.median(cost)) if cost else None
        gflops = pick("gflops")
        if gflops is None and cost and flops:
            gflops = flops / cost / 1e9
        error = pick("error")
        kind = pick("error_kind")
        if error is not None and not isinstance(error, str):
            error = str(error)
        if error is not None and kind is None:
            kind = error.split(":", 1)[0].strip()[:40] or "error"
        if kind is not None and not isinstance(kind, str):
            kind = str(kind)
        cfg = pick("config", {})
        if not isinstance(cfg, dict):
            cfg = {"config": str(cfg)}
        pred = pick("predicted")
        used = {n for names in _ALIASES.values() for n in names}
        extra = {k: v for k, v in d.items() if k not in used}
        return TrialRecord(str(pick("run", run)), int(pick("index", index)), dict(cfg),
                           None if gflops is None or error else float(gflops),
                           None if cost is None else float(cost), error, kind,
                           float(pick("timestamp", 0.0)), None if pred is None else float(pred), extra)


def _from_tune_record(d: dict, flops: float | None) -> dict:
    """workbench.tune's log record (version wb-tune/1) in this module's field names:
    config {"index", "entity": [[knob, kind, value], ...]}, result {"costs", "error_no",
    "error_name", "error_msg"}; GFLOP/s from the task's FLOP count (rebuilt from the workload)."""
    cfg, res = d["config"], d["result"]
    knobs = {e[0]: e[2] for e in cfg.get("entity", []) if len(e) >= 3} if "entity" in cfg else cfg
    ok = res.get("error_no", 1) == 0 and res.get("costs")
    cost = float(np.median(res["costs"])) if ok else None
    if flops is None and ok:
        flops = task_flops(d.get("workload"))
    out = {k: v for k, v in d.items() if k not in ("config", "result")}
    out.update(config=knobs, cost=cost, run=d.get("run"), index=cfg.get("index", 0),   # else: file name
               gflops=flops / cost / 1e9 if ok and flops else None,
               error=None if ok else f"{res.get('error_name', 'ERROR')}: {res.get('error_msg', '')}".strip(": "),
               error_kind=None if ok else res.get("error_name", "ERROR"))
    if ok and not flops:
        out["error"], out["error_kind"] = "no FLOP count for this workload", "NO_FLOPS"
    return out


_FLOPS_CACHE: dict = {}


def task_flops(workload_key) -> float | None:
    """FLOPs of a tune workload key '["kernels.matmul.cpu_template", [args]]' (None if the
    template cannot be imported: generated tasks from a notebook's own compute)."""
    if not workload_key:
        return None
    if workload_key in _FLOPS_CACHE:
        return _FLOPS_CACHE[workload_key]
    flops = None
    try:
        import importlib
        name, args = json.loads(workload_key)
        mod, _, attr = name.rpartition(".")
        template = getattr(importlib.import_module(mod), attr)
        from workbench import tune
        flops = float(tune.Task(template, args=tuple(tuple(a) if isinstance(a, list) else a
                                                     for a in args)).flop)
    except Exception:       # an unknown workload shows errors in the dashboard, not a crash
        flops = None
    _FLOPS_CACHE[workload_key] = flops
    return flops


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (set, tuple)):
        return list(v)
    return str(v)


def read_log(path, run: str | None = None) -> list:
    """Records of a JSONL log; `run` defaults to the record's own or the file's stem."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such log: {path}")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not a JSON object ({e.msg})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{path}:{n}: expected a JSON object per line")
        rec = TrialRecord.from_any(d, run=run or path.stem, index=len(out))
        if run is not None:
            rec = TrialRecord(run, *[getattr(rec, f) for f in ("index", "config", "gflops", "cost", "error",
                                                                "error_kind", "timestamp", "predicted",
                                                                "extra")])
        out.append(rec)
    return out


def write_log(path, records) -> None:
    with open(path, "w") as fh:
        for r in records:
            fh.write(r.to_json() + "\n")


# -- derived series (pure; the dashboard draws them) ----------------------------------------------
def best_so_far(records) -> tuple:
    """(trial numbers 1.., best GFLOP/s so far, seconds since the run's first record)."""
    xs, ys, ts, best = [], [], [], 0.0
    t0 = records[0].timestamp if records else 0.0
    for n, r in enumerate(records, 1):
        if r.ok:
            best = max(best, r.gflops)
        xs.append(n)
        ys.append(best)
        ts.append(max(0.0, r.timestamp - t0))
    return xs, ys, ts


def rank_correlation(records) -> float | None:
    """Spearman rank correlation between predicted and measured (None with < 3 pairs)."""
    pairs = [(r.predicted, r.gflops) for r in records if r.ok and r.predicted is not None]
    if len(pairs) < 3:
        return None
    from scipy.stats import spearmanr
    rho = spearmanr([p for p, _ in pairs], [g for _, g in pairs]).statistic
    return None if rho is None or not math.isfinite(rho) else float(rho)


def _knob_value(v):
    if isinstance(v, (list, tuple)):
        return "x".join(str(x) for x in v)
    return v


def embed(records) -> np.ndarray:
    """2-D PCA embedding of the configurations (knob values one-hot or numeric; lists joined)."""
    from sklearn.decomposition import PCA
    from sklearn.feature_extraction import DictVectorizer
    if not records:
        return np.zeros((0, 2))
    rows = [{k: _knob_value(v) for k, v in r.config.items()} for r in records]
    # numbers: log2 of factors spreads powers of two evenly; strings one-hot
    rows = [{k: (math.log2(v) if isinstance(v, (int, float)) and v > 0 else v) for k, v in row.items()}
            for row in rows]
    X = DictVectorizer(sparse=False).fit_transform(rows)
    if X.shape[1] == 0 or len(records) < 2:
        return np.zeros((len(records), 2))
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
    n = min(2, X.shape[1], len(records))
    Y = PCA(n_components=n).fit_transform(X)
    return Y if n == 2 else np.column_stack([Y, np.zeros(len(Y))])


def knob_effects(records, knob: str) -> dict:
    """value (as text) -> list of GFLOP/s of the successful trials with that value."""
    out = {}
    for r in records:
        if r.ok and knob in r.config:
            out.setdefault(str(_knob_value(r.config[knob])), []).append(r.gflops)
    return dict(sorted(out.items(), key=lambda kv: _sort_key(kv[0])))


def _sort_key(s: str):
    try:
        return (0, float(s.split("x")[0]), s)
    except ValueError:
        return (1, 0.0, s)


def error_counts(records) -> dict:
    """error kind -> list of messages."""
    out = {}
    for r in records:
        if not r.ok:
            out.setdefault(r.error_kind or "error", []).append(r.error or "no result")
    return out
