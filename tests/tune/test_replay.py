"""ReplayMeasure: tuners run against a table of recorded measurements, see only its configs, get
its costs (failures stay failures), and a config outside it is an error, not a made-up cost."""
import math

import numpy as np
import pytest

import kernels
from workbench import tune
from workbench.tune.log import make_record
from workbench.tune.replay import ReplayMeasure


def _task():
    return tune.Task(kernels.matmul.cpu_template, args=(64, 64, 64))


def _table(task, fraction=0.5, seed=0):
    """Records of a random `fraction` of the space: cost grows with the distance of each knob's
    choice from 1; one config in ten failed."""
    rng = np.random.default_rng(seed)
    idx = task.space.sample(rng, int(len(task.space) * fraction))
    recs = []
    for n, i in enumerate(idx):
        knobs = task.space.point2knob(i)
        cost = 1e-3 * (1 + sum(abs(k - 1) for k in knobs))
        res = tune.MeasureResult(i, (cost,) * 3) if n % 10 else tune.MeasureResult(i, (), 5, "wrong")
        recs.append(make_record(task, task.space.get(i), res, str(task.target)))
    return recs


@pytest.mark.parametrize("make", [lambda t: tune.RandomTuner(t, seed=1),
                                  lambda t: tune.XGBTuner(t, seed=1, feature_type="knob"),
                                  lambda t: tune.GATuner(t, pop_size=8, seed=1)],
                         ids=["random", "xgb", "ga"])
def test_tuners_stay_in_the_table_and_get_its_costs(make):
    task = _task()
    recs = _table(task)
    replay = ReplayMeasure(task, recs)
    recorded = {r["config"]["index"]: tune.log.record_cost(r) for r in recs}
    tuner = make(task).tune(32, measure=replay, batch_size=8)
    assert len(tuner.history) == 32
    for i, cost in tuner.history:
        assert i in recorded and (cost == recorded[i] or math.isinf(cost) and math.isinf(recorded[i]))
    assert replay.best_cost == min(recorded.values())


def test_outside_the_table_is_an_error_and_the_space_is_restricted():
    task = _task()
    recs = _table(task, fraction=0.25)
    replay = ReplayMeasure(task, recs)
    inside = {r["config"]["index"] for r in recs}
    outside = next(i for i in range(len(task.space)) if i not in inside)
    assert not task.space.is_valid(outside) and all(task.space.is_valid(i) for i in inside)
    with pytest.raises(KeyError, match="not in the replay table"):
        replay.measure_batch(task, [outside])
    assert set(task.space.sample(np.random.default_rng(0), 10 ** 6)) == inside


def test_unrestricted_and_empty_tables():
    task = _task()
    ReplayMeasure(task, _table(task), restrict=False)
    assert not task.space.filters
    with pytest.raises(ValueError, match="--record"):
        ReplayMeasure(_task(), [])


def test_diverse_pick_skips_near_duplicates():
    from workbench.tune.model_based import diverse_pick
    space = _task().space
    best = space.sample(np.random.default_rng(0), 1)[0]
    knobs = space.point2knob(best)
    twin = list(knobs)
    j = next(j for j, d in enumerate(space.dims) if d > 1)
    twin[j] = (knobs[j] + 1) % space.dims[j]               # differs from `best` in one knob
    other = [(k + 1) % d for k, d in zip(knobs, space.dims)]   # differs in every knob
    cands = [best, space.knob2point(twin), space.knob2point(other)]
    assert diverse_pick(space, cands, 2) == [best, cands[2]]
    assert diverse_pick(space, cands, 5) == [best, cands[2], cands[1]]


@pytest.mark.parametrize("kw,asked_for", [({"eps_greedy": 0.125, "diversity": 1}, 7),
                                          ({"eps_greedy": 0.25, "diversity": 1}, 6),
                                          ({"eps_greedy": 0.0, "diversity": 1}, 8),
                                          ({}, 16)])     # default: diverse_pick's 8 of the best 16
def test_xgb_batches_keep_an_eps_greedy_share_of_random_configs(kw, asked_for):
    task = _task()
    replay = ReplayMeasure(task, _table(task))
    tuner = tune.XGBTuner(task, seed=0, feature_type="knob", **kw)
    asked = []
    find = tuner.sa.find_maximums

    def spy(model, n, exclude):
        asked.append(n)
        return find(model, n, exclude)
    tuner.sa.find_maximums = spy
    tuner.tune(32, measure=replay, batch_size=8)
    assert asked and set(asked) == {asked_for}


@pytest.mark.parametrize("strict,first_model_batch", [(False, 2), (True, 3)])
def test_xgb_strict_plan_stays_random_until_plan_size(strict, first_model_batch):
    task = _task()
    replay = ReplayMeasure(task, _table(task))
    tuner = tune.XGBTuner(task, seed=0, feature_type="knob", plan_size=16, strict_plan=strict)
    calls = []
    find = tuner.sa.find_maximums

    def spy(model, n, exclude):
        calls.append(len(tuner.history))
        return find(model, n, exclude)
    tuner.sa.find_maximums = spy
    tuner.tune(32, measure=replay, batch_size=8)
    assert calls[0] == 8 * (first_model_batch - 1)
