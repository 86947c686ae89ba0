"""Dynamic-resolution policy simulator (study A3, after Yan, Luo, Ceze 2021 and Yan's general exam).

Input: a table image x resolution -> (correct, confidence, bytes read, latency, FLOPs). A policy
decides per image which resolutions to run; its cost is what it actually ran and read:

  static r      one resolution for every image
  oracle        the smallest resolution that classifies the image correctly (a bound, not a policy)
  cascade tau   run the lowest resolution, escalate to the next while confidence < tau
  selector q    a logistic regression on features of the lowest-resolution run predicts the smallest
                sufficient resolution; run the lowest, then the smallest r with P(sufficient) >= q
                (predictions out-of-fold, so the selector is never scored on its training images)

Costs add up over every resolution a policy runs (each resolution is stored as its own file, so
bytes add too; a progressive multi-resolution store would read less, noted, not modelled).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class ResolutionTable:
    resolutions: tuple            # ascending
    correct: np.ndarray           # (images, R) bool
    confidence: np.ndarray        # (images, R) max class probability
    bytes: np.ndarray             # (images, R) bytes read for the image at r
    latency: np.ndarray           # (R,) or (images, R) seconds per image at r
    flops: np.ndarray             # (R,) FLOPs per image at r
    features: np.ndarray | None = None   # (images, d) from the lowest-resolution run (selector input)

    def __post_init__(self):
        n, R = np.shape(self.correct)
        if list(self.resolutions) != sorted(self.resolutions) or len(self.resolutions) != R:
            raise ValueError(f"resolutions must be ascending and match the table's {R} columns, got "
                             f"{self.resolutions}")
        for name in ("confidence", "bytes"):
            if np.shape(getattr(self, name)) != (n, R):
                raise ValueError(f"{name} must have shape {(n, R)}, got {np.shape(getattr(self, name))}")
        if np.shape(self.latency) not in ((R,), (n, R)) or np.shape(self.flops) != (R,):
            raise ValueError(f"latency must be ({R},) or {(n, R)} and flops ({R},)")

    @property
    def per_image_latency(self) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.latency, float), np.shape(self.correct))


@dataclass(frozen=True)
class PolicyPoint:
    policy: str          # "static" | "oracle" | "cascade" | "selector"
    param: float         # r, tau or q (nan for the oracle)
    accuracy: float
    latency_mean: float
    latency_p95: float
    bytes_mean: float
    flops_mean: float


def _evaluate(table: ResolutionTable, policy: str, param: float, ran: np.ndarray, final: np.ndarray) -> PolicyPoint:
    """`ran` (images, R) bool: resolutions run per image; `final` the index whose answer counts."""
    idx = np.arange(len(final))
    lat = (table.per_image_latency * ran).sum(axis=1)
    return PolicyPoint(policy, float(param), float(table.correct[idx, final].mean()), float(lat.mean()),
                       float(np.percentile(lat, 95)), float((table.bytes * ran).sum(axis=1).mean()),
                       float((np.asarray(table.flops, float) * ran).sum(axis=1).mean()))


def static(table: ResolutionTable) -> list:
    n, R = table.correct.shape
    out = []
    for j, r in enumerate(table.resolutions):
        ran = np.zeros((n, R), bool)
        ran[:, j] = True
        out.append(_evaluate(table, "static", r, ran, np.full(n, j)))
    return out


def oracle(table: ResolutionTable) -> PolicyPoint:
    n, R = table.correct.shape
    first = np.where(table.correct.any(axis=1), table.correct.argmax(axis=1), 0)
    ran = np.zeros((n, R), bool)
    ran[np.arange(n), first] = True
    return _evaluate(table, "oracle", float("nan"), ran, first)


def cascade(table: ResolutionTable, taus=None) -> list:
    """Escalate from the lowest resolution while confidence < tau (the last one always answers)."""
    n, R = table.correct.shape
    taus = np.linspace(0.5, 1.0, 11) if taus is None else taus
    out = []
    for tau in taus:
        confident = table.confidence >= tau
        confident[:, -1] = True
        final = confident.argmax(axis=1)
        ran = np.arange(R)[None, :] <= final[:, None]
        out.append(_evaluate(table, "cascade", tau, ran, final))
    return out


def sufficient_label(table: ResolutionTable) -> np.ndarray:
    """Index of the smallest correct resolution (the highest when none is correct)."""
    R = table.correct.shape[1]
    return np.where(table.correct.any(axis=1), table.correct.argmax(axis=1), R - 1)


def selector_probabilities(table: ResolutionTable, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold P(smallest sufficient index <= j), shape (images, R), from a logistic regression
    on the lowest-resolution features (plus its confidence)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    if table.features is None:
        raise ValueError("the selector needs table.features (features of the lowest-resolution run)")
    n, R = table.correct.shape
    X = np.c_[table.features, table.confidence[:, 0]]
    y = sufficient_label(table)
    proba = np.zeros((n, R))
    for train, test in KFold(min(folds, n), shuffle=True, random_state=seed).split(X):
        classes = np.unique(y[train])
        if len(classes) == 1:
            proba[np.ix_(test, classes)] = 1.0
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        p = model.fit(X[train], y[train]).predict_proba(X[test])
        proba[np.ix_(test, classes)] = p
    return np.cumsum(proba, axis=1)


def selector(table: ResolutionTable, qs=None, folds: int = 5, seed: int = 0) -> list:
    """Run the lowest resolution (for the features), then the smallest r with P(sufficient) >= q."""
    n, R = table.correct.shape
    cum = selector_probabilities(table, folds, seed)
    qs = np.linspace(0.3, 0.95, 14) if qs is None else qs
    out = []
    for q in qs:
        ok = cum >= q
        ok[:, -1] = True
        final = ok.argmax(axis=1)
        ran = np.zeros((n, R), bool)
        ran[:, 0] = True
        ran[np.arange(n), final] = True
        out.append(_evaluate(table, "selector", q, ran, final))
    return out


def all_policies(table: ResolutionTable, seed: int = 0) -> list:
    points = static(table) + [oracle(table)] + cascade(table)
    if table.features is not None:
        points += selector(table, seed=seed)
    return points


def pareto_front(points: list, cost: str = "latency_mean") -> list:
    """Points no other point beats on both accuracy (higher) and `cost` (lower), by cost."""
    front = []
    for p in sorted(points, key=lambda p: (getattr(p, cost), -p.accuracy)):
        if not front or p.accuracy > front[-1].accuracy:
            front.append(p)
    return front


def best_under_budget(points: list, budget: float, cost: str = "latency_mean",
                      include_oracle: bool = False) -> PolicyPoint | None:
    """The most accurate point whose `cost` is within budget (ties: the cheaper); None if none fits.
    The oracle is left out by default: it needs the labels."""
    fits = [p for p in points if getattr(p, cost) <= budget and (include_oracle or p.policy != "oracle")]
    return max(fits, key=lambda p: (p.accuracy, -getattr(p, cost))) if fits else None
