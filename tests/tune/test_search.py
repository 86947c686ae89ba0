"""The annealer's budget: a call featurizes at most `max_new` new configs (deterministic, no
clock), scores again every config featurized before, and scores the whole space when that fits
the budget (always for free knob features)."""
import numpy as np

import kernels
from workbench import tune
from workbench.tune.model_based import SimulatedAnnealingOptimizer, XGBoostCostModel


def _task():
    # 2560 configs: more than the WALK's exhaustive_below, few enough to enumerate
    return tune.Task(kernels.matmul.cpu_template, args=(64, 256, 64))


# the default (8192) scores every template space of the catalog whole; these tests study the walk
WALK = dict(exhaustive_below=1024)


def _small_task():
    t = tune.Task(kernels.matmul.cpu_template, args=(4, 32, 4))
    assert len(t.space) < 1000
    return t


def _fitted(task, feature_type, n=24, seed=0):
    """A model fit on a rule (fast = wide vectors, tall blocks), on n random configs."""
    model = XGBoostCostModel(task, feature_type, "reg", seed=seed)
    idx = task.space.sample(np.random.default_rng(seed), n)
    costs = [1.0 / (task.space.get(i)["tile_x"].size[2] * task.space.get(i)["tile_y"].size[1])
             for i in idx]
    model.fit(idx, costs)
    return model, set(idx)


def test_a_call_featurizes_at_most_max_new_configs_and_is_deterministic():
    task = _task()
    picks = []
    for _ in range(2):
        model, seen = _fitted(task, "itervar")
        before = len(model.featurized())
        sa = SimulatedAnnealingOptimizer(task.space, np.random.default_rng(3), parallel=16, max_new=40, **WALK)
        picks.append(sa.find_maximums(model, 8, seen))
        assert len(model.featurized()) - before <= 40
        assert len(picks[-1]) == 8 and not set(picks[-1]) & seen
    assert picks[0] == picks[1]


def test_featurized_configs_are_scored_again_in_later_calls():
    task = _task()
    model, seen = _fitted(task, "itervar")
    sa = SimulatedAnnealingOptimizer(task.space, np.random.default_rng(0), parallel=8, max_new=16, **WALK)
    pool = set(model.featurized())
    extra = task.space.sample(np.random.default_rng(9), 200, exclude=pool)
    model.predict(extra)                  # featurized outside the walk (as eps-greedy picks are)
    known = [i for i in model.featurized() if i not in seen]
    best_known = known[int(np.argmax(model.predict(known)))]
    got = sa.find_maximums(model, 8, seen)
    # the picks are the best 8 of all it scored: the best featurized config is one of them unless
    # 8 configs scored at least as well
    assert best_known in got or model.predict([best_known])[0] <= min(model.predict(got))


def test_free_features_score_the_whole_space():
    task = _task()
    model, seen = _fitted(task, "knob")
    sa = SimulatedAnnealingOptimizer(task.space, np.random.default_rng(0), max_new=16, **WALK)
    assert len(task.space) > sa.exhaustive_below
    got = sa.find_maximums(model, 8, seen)
    rest = [i for i in range(len(task.space)) if i not in seen]
    scores = model.predict(rest)
    assert sorted(model.predict(got)) == sorted(np.sort(scores)[-8:])


def test_a_remainder_within_the_budget_is_scored_whole():
    task = _small_task()
    model, seen = _fitted(task, "itervar", n=12)
    n = len(task.space)
    tight = SimulatedAnnealingOptimizer(task.space, np.random.default_rng(0), parallel=8,
                                        exhaustive_below=0, max_new=n - 13)
    tight.find_maximums(model, 4, seen)    # the rest does not fit the budget: annealing
    assert len(model.featurized()) < n
    wide = SimulatedAnnealingOptimizer(task.space, np.random.default_rng(0), exhaustive_below=0,
                                       max_new=n)
    wide.find_maximums(model, 4, seen)     # it fits: scored whole
    assert len(model.featurized()) == n



def test_the_default_search_has_no_clock():
    tuner = tune.XGBTuner(_small_task(), seed=0)
    assert tuner.sa.max_seconds is None and tuner.sa.max_new == 192


def test_propose_spends_the_same_budget_where_the_knob_model_points():
    """propose=True: a knob-feature model (free to score) searches the space, the loop-feature model
    ranks only its max_new best and what it featurized before; the batch is unvisited and the
    rule's fast configs come out on top."""
    from workbench.tune.measure import MeasureResult
    task = _task()
    tuner = tune.XGBTuner(task, seed=0, propose=True, sa_options={"max_new": 40}, diversity=1,
                          eps_greedy=0)
    idx = task.space.sample(np.random.default_rng(0), 24)

    def rule(i):
        c = task.space.get(i)
        return 1.0 / (c["tile_x"].size[2] * c["tile_y"].size[1])
    tuner.visited.update(idx)
    tuner.update(idx, [MeasureResult(i, (rule(i),)) for i in idx])
    assert tuner.proposer.booster is not None
    before = len(tuner.model.featurized())
    batch = tuner.next_batch(8)
    assert len(tuner.model.featurized()) - before <= 40
    assert len(batch) == 8 and not set(batch) & set(idx)
    # better than what was measured: the model learned the rule from 24 samples
    assert np.median([rule(i) for i in batch]) <= np.median([rule(i) for i in idx])
    assert tune.XGBTuner(task, seed=0, feature_type="knob", propose=True).proposer is None
    # by default only where the space is too large to enumerate (a generated space)
    assert tune.XGBTuner(task, seed=0).proposer is None
    from workbench import te
    A, B = te.placeholder((512, 512), name="A"), te.placeholder((512, 512), name="B")
    k = te.reduce_axis((0, 512), name="k")
    C = te.compute((512, 512), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    big = tune.Task.from_compute([C])
    assert len(big.space) > 1 << 15 and tune.XGBTuner(big, seed=0).proposer is not None


def test_a_template_space_is_scored_whole_by_default():
    task = _task()
    model, _ = _fitted(task, "itervar")
    assert SimulatedAnnealingOptimizer(task.space, np.random.default_rng(0))._exhaustive(model)
    assert not SimulatedAnnealingOptimizer(task.space, np.random.default_rng(0), **WALK)._exhaustive(model)
