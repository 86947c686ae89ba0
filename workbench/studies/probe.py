"""Pairwise ranking probe (a linear RankNet): which of two views of one image is augmented more?

A logistic regression without intercept on f(x_a) - f(x_b) (features scaled, not centred, so the
score stays antisymmetric: swapping the pair flips the prediction). Pairs only join views of the same
base image, and folds split by base image (leave-one-image-out when folds == number of images), so
views of a held-out photo never leak into training. Chance is 50%.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pairs:
    a: np.ndarray        # index of the first view
    b: np.ndarray        # index of the second view
    label: np.ndarray    # 1 when view a has the larger extent
    group: np.ndarray    # base image of the pair


def make_pairs(extents: np.ndarray, groups: np.ndarray, min_gap: float = 0.0,
               seed: int = 0) -> Pairs:
    """All pairs of views of the same image whose extents differ by at least `min_gap`, each in a
    random order (so labels are balanced)."""
    extents, groups = np.asarray(extents, float), np.asarray(groups)
    if extents.shape != groups.shape:
        raise ValueError(f"extents {extents.shape} and groups {groups.shape} differ in shape")
    rng = np.random.default_rng(seed)
    a, b = [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        i, j = np.triu_indices(len(idx), 1)
        keep = np.abs(extents[idx[i]] - extents[idx[j]]) >= max(min_gap, 1e-12)
        a.append(idx[i[keep]])
        b.append(idx[j[keep]])
    a, b = np.concatenate(a), np.concatenate(b)
    flip = rng.random(len(a)) < 0.5
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    return Pairs(a, b, (extents[a] > extents[b]).astype(np.int64), groups[a])


def _splits(groups: np.ndarray, folds: int | None):
    from sklearn.model_selection import GroupKFold, LeaveOneGroupOut
    n = len(np.unique(groups))
    if n < 2:
        raise ValueError("the probe needs views of at least 2 base images (it splits by image)")
    if folds is None or folds >= n:
        return LeaveOneGroupOut().split(groups, groups=groups)
    return GroupKFold(n_splits=max(2, folds)).split(groups, groups=groups)


def _model(C: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(with_mean=False),
                         LogisticRegression(C=C, fit_intercept=False, max_iter=2000))


def pair_accuracy(features: np.ndarray, pairs: Pairs, folds: int | None = None, C: float = 1.0) -> float:
    """Held-out pairwise accuracy of the probe on `features` (views x dims), split by image."""
    X = features[pairs.a] - features[pairs.b]
    correct = 0
    for train, test in _splits(pairs.group, folds):
        if len(np.unique(pairs.label[train])) < 2:      # degenerate fold: predict the majority
            pred = np.full(len(test), pairs.label[train][0])
        else:
            pred = _model(C).fit(X[train], pairs.label[train]).predict(X[test])
        correct += int((pred == pairs.label[test]).sum())
    return correct / len(pairs.label)


def block_importance(blocks: list, pairs: Pairs, folds: int | None = None, C: float = 1.0) -> dict:
    """Importance of each block in a probe fitted on all blocks concatenated:

    - `weight_share`: each block's share of the mean |standardized weight| (mean, not sum, so a
      512-channel block does not win by size); sums to 1.
    - `drop`: held-out accuracy of all blocks minus accuracy without the block.
    The paper's exact definition of "relative importance" is not known to us (see cv_papers.md)."""
    full = np.concatenate(blocks, axis=1)
    X = full[pairs.a] - full[pairs.b]
    model = _model(C).fit(X, pairs.label)
    w = np.abs(model[-1].coef_[0])
    bounds = np.cumsum([0] + [b.shape[1] for b in blocks])
    mean_w = np.array([w[lo:hi].mean() for lo, hi in zip(bounds[:-1], bounds[1:])])
    acc_all = pair_accuracy(full, pairs, folds, C)
    drop = []
    for k in range(len(blocks)):
        rest = [b for i, b in enumerate(blocks) if i != k]
        drop.append(acc_all - pair_accuracy(np.concatenate(rest, axis=1), pairs, folds, C) if rest else acc_all - 0.5)
    return {"weight_share": mean_w / mean_w.sum(), "drop": np.array(drop), "all_blocks": acc_all}
