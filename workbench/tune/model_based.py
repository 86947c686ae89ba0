"""The learned cost model and the tuner it guides (AutoTVM's XGBTuner, with transfer learning).

XGBoostCostModel: gradient-boosted trees (xgboost) on config features; "rank" (rank:pairwise,
the default: only the order of configs matters) or "reg" (squared error on normalized
throughput). Labels are flop/cost divided by the best (failures 0). Refit after every batch.
`predictions_per_second` and the tuner's `time_choosing` report what the model costs.

Transfer (`load_history`): records of other workloads of the same template (other shapes) fit a
base model, one ranking group per workload; the local model then boosts from the base model's
margin scaled by 2^(-n/64) (n local samples), and drops it below 0.05: AutoTVM's f_global + f_local.

SimulatedAnnealingOptimizer: `parallel` chains walking the space by random_walk, accepting a
worse neighbour with probability exp((new - old) / T), T from 1 to 0; chains persist across plans;
keeps the best unvisited points seen. Budgeted in configs (at most `max_new` new feature
extractions per batch), not seconds, so a search is deterministic; every config featurized
before is scored again each batch (features are cached: that costs only xgboost), and the whole
space is scored when what is left to featurize fits the budget (at once for knob features).
A batch's last `eps_greedy` share is random configs.

XGBTuner(propose=True), the default where a space is too large to enumerate: a second model on
knob features (free to evaluate) anneals over the whole space and proposes; the loop-feature model
ranks only its proposals, so the same feature budget is spent where the cheap model points.
"""
from __future__ import annotations

import heapq
import importlib
import json
import logging
import math
import time

import numpy as np

from .features import EXTRACTORS
from .log import load, record_cost
from .tuner import Tuner

_log = logging.getLogger("workbench.tune")


def _resolve_template(name: str):
    module, _, qual = name.rpartition(".")
    obj = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


class XGBoostCostModel:
    def __init__(self, task, feature_type: str = "itervar", loss_type: str = "rank",
                 num_rounds: int = 60, seed: int = 0):
        if feature_type not in EXTRACTORS:
            raise ValueError(f"feature_type must be one of {list(EXTRACTORS)}, got {feature_type!r}")
        if loss_type not in ("rank", "reg"):
            raise ValueError(f"loss_type must be 'rank' or 'reg', got {loss_type!r}")
        import xgboost as xgb
        self.xgb = xgb
        self.task = task
        self.feature_type = feature_type
        self.loss_type = loss_type
        self.num_rounds = num_rounds
        self.params = {"max_depth": 3, "gamma": 1e-4, "min_child_weight": 1, "subsample": 1.0,
                       "eta": 0.3, "lambda": 1, "alpha": 0, "nthread": 1, "seed": seed,
                       "objective": "rank:pairwise" if loss_type == "rank" else "reg:squarederror",
                       "verbosity": 0}
        self._extract = EXTRACTORS[feature_type]
        self._cache: dict = {}        # config -> features (a replay may share one across tuners)
        self._seen: set = set()       # configs this model has featurized: what its budget counts
        self.booster = None
        self.base = None              # transfer: (booster trained on other workloads)
        self.n_local = 0
        self.n_predicted = 0
        self.predict_seconds = 0.0
        self.feature_seconds = 0.0

    @property
    def free_features(self) -> bool:
        """Knob features cost microseconds; the loop features lower every config (milliseconds)."""
        return self.feature_type == "knob"

    def featurized(self) -> list[int]:
        """Configs of this task this model has featurized (scoring them again costs only xgboost)."""
        return list(self._seen)

    def n_unfeaturized(self, indices) -> int:
        return sum(int(i) not in self._seen for i in set(indices))

    def features(self, indices, task=None) -> np.ndarray:
        task = task or self.task
        cache = self._cache if task is self.task else {}
        t0 = time.perf_counter()
        rows = []
        for i in indices:
            f = cache.get(i)
            if f is None:
                f = cache[i] = self._extract(task, int(i))
            rows.append(f)
        if task is self.task:
            self._seen.update(int(i) for i in indices)
        self.feature_seconds += time.perf_counter() - t0
        return np.stack(rows) if rows else np.zeros((0, 1), np.float32)

    @staticmethod
    def _labels(costs, flop) -> np.ndarray:
        y = np.array([flop / c if c < math.inf else 0.0 for c in costs], np.float64)
        return y / y.max() if y.max() > 0 else y

    def _base_weight(self) -> float:
        w = 2.0 ** (-self.n_local / 64.0)
        return w if w >= 0.05 else 0.0

    def _base_margin(self, x):
        if self.base is None or self._base_weight() == 0:
            return None
        d = self.xgb.DMatrix(x)
        return self._base_weight() * self.base.predict(d, output_margin=True)

    def fit(self, indices, costs):
        x = self.features(indices)
        y = self._labels(costs, self.task.flop or 1.0)
        self.n_local = len(indices)
        if len(indices) < 2 or y.max() <= 0:
            return
        d = self.xgb.DMatrix(x, label=y)
        margin = self._base_margin(x)
        if margin is not None:
            d.set_base_margin(margin)
        if self.loss_type == "rank":
            d.set_group([len(y)])
        self.booster = self.xgb.train(self.params, d, self.num_rounds)

    def predict(self, indices) -> np.ndarray:
        """Scores (higher = faster) of configs; 0 everywhere before the first fit."""
        x = self.features(indices)
        t0 = time.perf_counter()
        if self.booster is None and self.base is None:
            out = np.zeros(len(indices))
        else:
            d = self.xgb.DMatrix(x)
            margin = self._base_margin(x)
            if self.booster is None:
                out = margin if margin is not None else np.zeros(len(indices))
            else:
                if margin is not None:
                    d.set_base_margin(margin)
                out = self.booster.predict(d, output_margin=True)
        self.predict_seconds += time.perf_counter() - t0
        self.n_predicted += len(indices)
        return np.asarray(out, np.float64)

    @property
    def predictions_per_second(self) -> float:
        total = self.predict_seconds + self.feature_seconds
        return self.n_predicted / total if total > 0 else 0.0

    def load_history(self, records, min_seed_records: int = 16, rounds: int = 100) -> int:
        """Fit the base (global) model on records of other workloads of this task's template.
        Returns how many records were used (0: too few, nothing loaded)."""
        from .task import Task
        mine = self.task.workload_key
        groups: dict = {}
        for r in records:
            if r.get("task") != self.task.name or r.get("workload") == mine:
                continue
            groups.setdefault(r["workload"], []).append(r)
        n = sum(len(g) for g in groups.values())
        if n < min_seed_records:
            return 0
        xs, ys, sizes = [], [], []
        for key, recs in groups.items():
            name, args = json.loads(key)
            try:
                other = Task(_resolve_template(name), args=tuple(
                    tuple(a) if isinstance(a, list) else a for a in args))
            except Exception as e:    # template gone or renamed: skip that workload
                _log.warning("transfer: cannot rebuild %s (%s)", key, e)
                continue
            idx = [r["config"]["index"] for r in recs]
            xs.append(self.features(idx, task=other))
            ys.append(self._labels([record_cost(r) for r in recs], other.flop or 1.0))
            sizes.append(len(idx))
        if not xs:
            return 0
        d = self.xgb.DMatrix(np.concatenate(xs), label=np.concatenate(ys))
        if self.loss_type == "rank":
            d.set_group(sizes)
        self.base = self.xgb.train(self.params, d, rounds)
        return int(sum(sizes))


class SimulatedAnnealingOptimizer:
    """The model's best unvisited configs. Budgeted in configs, not seconds, so a search is
    deterministic: a call extracts features of at most `max_new` configs it has not featurized
    before (features are cached per config, so what was featurized once is scored again for the
    price of xgboost). Every call scores (1) every featurized unvisited config (the memory of earlier
    walks), (2) the whole space when its valid configs (counted once when the space has at most
    `enumerate_below` combinations) are at most `exhaustive_below` or all fit in the budget (always
    true for free knob features), else (3) `parallel` annealing chains, which stop at the budget
    (free features: at their iteration bounds).
    `max_seconds`: an optional clock limit on the walk on top of the budget.
    exhaustive_below 8192 covers every template space of the catalog (3900-6216 valid configs):
    featurizing all of one costs 6-18 s once (1.5-3 ms a config), and the model then ranks the
    whole space instead of what 64 chains reach on 192 features a batch (about 3 steps each).
    Live on C9 (4 seeds, batch 2): median 28 trials to 95% against 47 for the budgeted walk at
    batch 8; its best configs were re-timed at 163-168 GFLOP/s against 148-166."""

    def __init__(self, space, rng, parallel: int = 64, n_iter: int = 200, early_stop: int = 30,
                 max_seconds: float | None = None, persistent: bool = True, exhaustive_below: int = 8192,
                 max_new: int | None = 192, enumerate_below: int = 1 << 15):
        self.space, self.rng = space, rng
        self.parallel, self.n_iter, self.early_stop = parallel, n_iter, early_stop
        self.max_seconds, self.persistent = max_seconds, persistent
        self.exhaustive_below, self.max_new, self.enumerate_below = exhaustive_below, max_new, enumerate_below
        self.points = None
        self._valid: list[int] | None = None

    def valid_configs(self) -> list[int] | None:
        """Every valid config (counted once), or None when the space is too large to enumerate."""
        if self._valid is None and len(self.space) <= self.enumerate_below:
            self._valid = list(self.space.enumerate())
        return self._valid

    def _exhaustive(self, model) -> bool:
        valid = self.valid_configs()
        if valid is None:
            return False
        if len(valid) <= self.exhaustive_below or model.free_features or self.max_new is None:
            return True
        return model.n_unfeaturized(valid) <= self.max_new

    def find_maximums(self, model, n: int, exclude: set) -> list[int]:
        if self._exhaustive(model):
            return self._score_all(model, n, exclude, self.valid_configs())
        t_start = time.perf_counter()
        heap: list = []          # min-heap of (score, index): the best n unvisited seen
        in_heap: set = set()

        def offer(idx, score):
            if idx in exclude or idx in in_heap:
                return False
            if len(heap) < n:
                heapq.heappush(heap, (score, idx))
                in_heap.add(idx)
                return True
            if score > heap[0][0]:
                _, old = heapq.heapreplace(heap, (score, idx))
                in_heap.discard(old)
                in_heap.add(idx)
                return True
            return False

        known = [i for i in model.featurized() if i not in exclude]
        if known:
            for i, sc in zip(known, model.predict(known)):
                offer(i, sc)
        points = self.points if self.persistent and self.points is not None else \
            self.space.sample(self.rng, min(self.parallel, len(self.space)))
        if not points:
            return [i for _, i in sorted(heap, reverse=True)]
        points = list(points)
        spent = model.n_unfeaturized(points)
        scores = model.predict(points)
        for p, sc in zip(points, scores):
            offer(p, sc)
        since_change = 0
        for it in range(self.n_iter):
            temp = 1.0 - it / self.n_iter
            new = [self.space.random_walk(p, self.rng) for p in points]
            new = [q if self.space.is_valid(q) else p for p, q in zip(points, new)]
            cost = 0 if model.free_features else model.n_unfeaturized(new)
            if self.max_new is not None and spent + cost > self.max_new:
                break
            spent += cost
            new_scores = model.predict(new)
            changed = False
            for q, sc in zip(new, new_scores):
                changed |= offer(q, sc)
            prob = np.exp(np.minimum((new_scores - scores) / (temp + 1e-5), 1.0))
            accept = self.rng.random(len(points)) < prob
            points = [q if a else p for p, q, a in zip(points, new, accept)]
            scores = np.where(accept, new_scores, scores)
            since_change = 0 if changed else since_change + 1
            if since_change >= self.early_stop:
                break
            if self.max_seconds is not None and time.perf_counter() - t_start > self.max_seconds:
                break
        self.points = points
        return [i for _, i in sorted(heap, reverse=True)]

    def _score_all(self, model, n, exclude, valid) -> list[int]:
        """A small space (a template's few thousand configs) is scored whole: exact, and cheaper
        than annealing once each config's features are cached (extracted once per config)."""
        rest = [i for i in valid if i not in exclude]
        if not rest:
            return []
        self.rng.shuffle(rest)          # ties (a model that cannot tell configs apart) at random
        scores = model.predict(rest)
        top = np.argsort(-scores, kind="stable")[:n]
        return [rest[t] for t in top]


def diverse_pick(space, candidates: list[int], n: int) -> list[int]:
    """n of `candidates` (best first): greedily the one that brings the most knob values not yet
    in the pick, ties to the better (AutoTVM's submodular pick with the scores zeroed), so a batch
    is not n near-duplicates of one config that the model happens to like."""
    knobs = [space.point2knob(i) for i in candidates]
    covered = [set() for _ in space.dims]
    left = list(range(len(candidates)))
    out = []
    while left and len(out) < n:
        gains = [sum(v not in c for v, c in zip(knobs[j], covered)) for j in left]
        j = left.pop(int(np.argmax(gains)))
        out.append(candidates[j])
        for v, c in zip(knobs[j], covered):
            c.add(v)
    return out


class XGBTuner(Tuner):
    """AutoTVM's XGBTuner: the first batch is random; once the model is fit (after every batch),
    each batch is the model's best unvisited configs found by simulated annealing, with an
    `eps_greedy` share of random ones (rounded: the default 0.05, AutoTVM's, is none of a batch
    of 8; 0.125 is one; benchmarks/tuning_replay.py compares them). `strict_plan`: stay random
    until `plan_size` configs are measured.
    `diversity` > 1 (default 2): the batch is picked from the model's best diversity x n by
    knob-value coverage (`diverse_pick`, AutoTVM's diversity filter): on the recorded tables it
    cut C9's median trials to 95% from 41 to 32.5 (40 seeds), equal elsewhere within noise.
    feature_type "itervar" (loop features, default), "knob" or "knob+itervar"; loss_type "rank"
    (default) or "reg". `sa_options`: SimulatedAnnealingOptimizer's (max_new: configs featurized
    per batch, 192 keeps a live conv batch near 1 s). `transfer`: a log (path or records) of other
    workloads of the same template to seed the model (no random first batch then).
    `propose` (default: when the space is too large to enumerate, as a generated space's 10^5
    configs): a knob-feature model, free to evaluate, anneals over the whole space and proposes its
    best `max_new` configs; the loop-feature model ranks those (same feature budget). Without it,
    192 featurized configs a batch let the annealer's 64 chains take 3 steps each in such a space.
    Generated 1024^3 matmul, 3 seeds, 64 trials (genexp, re-timed): 0.86x -> 0.97x our hand
    schedule; on the recorded template tables (replay --live-budget) within noise either way."""

    def __init__(self, task, plan_size: int = 16, feature_type: str = "itervar",
                 loss_type: str = "rank", eps_greedy: float = 0.05, seed: int | None = None,
                 transfer=None, sa_options: dict | None = None, diversity: float = 2.0,
                 strict_plan: bool = False, propose: bool | None = None):
        super().__init__(task, seed)
        self.plan_size = plan_size
        self.eps_greedy = eps_greedy
        self.diversity = diversity
        self.strict_plan = strict_plan
        self.model = XGBoostCostModel(task, feature_type, loss_type, seed=seed or 0)
        self.sa = SimulatedAnnealingOptimizer(self.space, self.rng, **(sa_options or {}))
        # propose: a knob-feature model (free to evaluate) searches the whole space, the loop-feature
        # model ranks only what it proposes (and what it featurized before)
        if propose is None:
            propose = len(self.space) > self.sa.enumerate_below
        self.proposer = None
        if propose and feature_type != "knob":
            self.proposer = XGBoostCostModel(task, "knob", loss_type, seed=seed or 0)
            self.propose_sa = SimulatedAnnealingOptimizer(self.space, self.rng, **(sa_options or {}))
        self.xs: list[int] = []
        self.ys: list[float] = []
        self.transferred = 0
        if transfer is not None:
            recs = transfer if isinstance(transfer, list) else load(transfer).records
            self.transferred = self.model.load_history(recs)
            if self.proposer is not None:
                self.proposer.load_history(recs)

    def next_batch(self, n):
        if len(self.xs) < (self.plan_size if self.strict_plan else 1) or self.model.booster is None:
            if self.model.base is None:
                return self.space.sample(self.rng, n, exclude=self.visited)
        n_random = int(round(self.eps_greedy * n)) if n >= 4 else 0
        n_model = n - n_random
        n_pick = max(n_model, int(self.diversity * n_model))
        if self.proposer is not None and (self.proposer.booster is not None or self.proposer.base is not None):
            picks = self._proposed(n_pick)
        else:
            picks = self.sa.find_maximums(self.model, n_pick, self.visited)
        picks = list(dict.fromkeys(picks))
        out = diverse_pick(self.space, picks, n_model) if self.diversity > 1 else picks[:n_model]
        out += self.space.sample(self.rng, n - len(out), exclude=self.visited | set(out))
        # the model's score of every config it measures (random picks too: they test the model)
        self.predicted.update(zip(out, (float(x) for x in self.model.predict(out))))
        return out

    def _proposed(self, n: int) -> list[int]:
        """The loop-feature model's best n of the knob model's best `max_new` unvisited configs
        (found by annealing on knob features, or by scoring the whole space when it can be
        enumerated) and of the configs it featurized before: the same feature budget as the
        annealer's, spent where the cheap model points."""
        budget = self.sa.max_new or 192
        cands = self.propose_sa.find_maximums(self.proposer, budget, self.visited)
        known = [i for i in self.model.featurized() if i not in self.visited]
        pool = list(dict.fromkeys(cands + known))
        if not pool:
            return []
        scores = self.model.predict(pool)
        return [pool[t] for t in np.argsort(-scores, kind="stable")[:n]]

    def update(self, indices, results):
        for i, r in zip(indices, results):
            self.xs.append(int(i))
            self.ys.append(r.cost)
        if len(self.xs) >= min(self.plan_size, 4) or self.model.base is not None:
            self.model.fit(self.xs, self.ys)
            if self.proposer is not None:
                self.proposer.fit(self.xs, self.ys)
