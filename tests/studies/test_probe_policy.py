"""The ranking probe at chance on shuffled labels and near-perfect on an informative feature;
the policy simulator on a hand-made table whose Pareto front is known."""
import math

import numpy as np
import pytest

from workbench.studies import policy, probe


def _synthetic(seed=0, images=8, views=12):
    rng = np.random.default_rng(seed)
    extents = rng.random(images * views)
    groups = np.repeat(np.arange(images), views)
    return rng, extents, groups


def test_probe_near_perfect_when_a_feature_encodes_the_extent():
    rng, extents, groups = _synthetic()
    feats = np.c_[rng.standard_normal((len(extents), 6)), extents + 0.01 * rng.standard_normal(len(extents))]
    pairs = probe.make_pairs(extents, groups, min_gap=0.05)
    assert probe.pair_accuracy(feats, pairs) > 0.97


def test_probe_at_chance_on_shuffled_labels():
    rng, extents, groups = _synthetic(1, images=10, views=14)
    feats = np.c_[rng.standard_normal((len(extents), 6)), extents]
    pairs = probe.make_pairs(extents, groups, min_gap=0.05)
    shuffled = probe.Pairs(pairs.a, pairs.b, rng.permutation(pairs.label), pairs.group)
    acc = probe.pair_accuracy(feats, shuffled)
    assert abs(acc - 0.5) < 0.08, acc


def test_pairs_stay_within_an_image_and_are_balanced():
    _, extents, groups = _synthetic()
    pairs = probe.make_pairs(extents, groups, min_gap=0.1)
    assert np.all(groups[pairs.a] == groups[pairs.b])
    assert np.all(np.abs(extents[pairs.a] - extents[pairs.b]) >= 0.1)
    assert 0.4 < pairs.label.mean() < 0.6
    assert np.array_equal(pairs.label, (extents[pairs.a] > extents[pairs.b]).astype(int))


def test_importance_finds_the_informative_block():
    rng, extents, groups = _synthetic(2)
    noise = rng.standard_normal((len(extents), 8))
    signal = np.c_[extents, rng.standard_normal((len(extents), 7)) * 0.1]
    pairs = probe.make_pairs(extents, groups, min_gap=0.05)
    imp = probe.block_importance([noise, signal], pairs, folds=4)
    assert imp["weight_share"][1] > 0.8
    assert imp["drop"][1] > 0.2 and abs(imp["drop"][0]) < 0.05


def test_probe_needs_two_images():
    extents, groups = np.linspace(0, 1, 6), np.zeros(6, int)
    pairs = probe.make_pairs(extents, groups)
    with pytest.raises(ValueError, match="at least 2 base images"):
        probe.pair_accuracy(np.c_[extents], pairs)


def _table():
    """4 images x 3 resolutions. Correct: image 0 at every r, 1 from r1, 2 only at r2, 3 never.
    Latency 1, 2, 4; bytes 10, 20, 40 (the same for every image); FLOPs 1, 4, 16."""
    correct = np.array([[1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0]], bool)
    conf = np.array([[0.95, 0.99, 0.99], [0.6, 0.9, 0.95], [0.55, 0.7, 0.9], [0.5, 0.5, 0.6]])
    return policy.ResolutionTable((1, 2, 3), correct, conf, np.tile([10.0, 20.0, 40.0], (4, 1)),
                                  np.array([1.0, 2.0, 4.0]), np.array([1.0, 4.0, 16.0]))


def test_static_and_oracle_points():
    t = _table()
    st = policy.static(t)
    assert [p.accuracy for p in st] == [0.25, 0.5, 0.75]
    assert [p.latency_mean for p in st] == [1.0, 2.0, 4.0]
    o = policy.oracle(t)
    assert o.accuracy == 0.75                                   # image 3 is never right
    assert o.latency_mean == pytest.approx((1 + 2 + 4 + 1) / 4)  # it runs only what it needs
    assert o.bytes_mean == pytest.approx((10 + 20 + 40 + 10) / 4)


def test_cascade_costs_add_up():
    t = _table()
    (p,) = policy.cascade(t, taus=[0.8])
    # image 0 stops at r0 (0.95); image 1 at r1 (0.9); image 2 at r2 (0.9); image 3 runs all
    assert p.accuracy == 0.75
    assert p.latency_mean == pytest.approx((1 + 3 + 7 + 7) / 4)
    assert p.flops_mean == pytest.approx((1 + 5 + 21 + 21) / 4)
    assert p.latency_p95 == pytest.approx(7.0)


def test_known_pareto_front_and_budget():
    t = _table()
    points = policy.static(t) + policy.cascade(t, taus=[0.8])
    front = policy.pareto_front(points)
    # static r2 (0.75 at 4.0) beats the cascade (0.75 at 4.5); static r0 and r1 are on the front
    assert [(p.policy, p.param) for p in front] == [("static", 1.0), ("static", 2.0), ("static", 3.0)]
    best = policy.best_under_budget(points + [policy.oracle(t)], 3.0)
    assert (best.policy, best.param) == ("static", 2.0)          # the oracle is excluded
    assert policy.best_under_budget(points, 0.5) is None


def test_selector_learns_from_features():
    rng = np.random.default_rng(0)
    n = 120
    need = rng.integers(0, 3, n)                                 # smallest sufficient resolution
    correct = np.arange(3)[None, :] >= need[:, None]
    conf = np.full((n, 3), 0.9)
    feats = np.c_[need + 0.05 * rng.standard_normal(n), rng.standard_normal((n, 3))]
    t = policy.ResolutionTable((1, 2, 3), correct, conf, np.tile([1.0, 2.0, 4.0], (n, 1)),
                               np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 4.0]), feats)
    best = max(policy.selector(t), key=lambda p: p.accuracy)
    assert best.accuracy > 0.95
    assert best.latency_mean < 4.0                               # cheaper than static max at equal accuracy


def test_table_shape_errors():
    with pytest.raises(ValueError, match="ascending"):
        policy.ResolutionTable((3, 1), np.zeros((2, 2), bool), np.zeros((2, 2)), np.zeros((2, 2)),
                               np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="confidence"):
        policy.ResolutionTable((1, 3), np.zeros((2, 2), bool), np.zeros((3, 2)), np.zeros((2, 2)),
                               np.ones(2), np.ones(2))
    assert math.isnan(policy.oracle(_table()).param)
