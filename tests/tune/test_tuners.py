"""Tuners end to end on tiny workloads: each finds valid configs; XGB refits and reports its
speed; transfer seeds the model; RecordStream feeds another thread; generated spaces work on an
operator outside the catalog."""
import threading

import numpy as np
import pytest

import kernels
import workbench as wb
from workbench import te, tune

OPTS = tune.MeasureOptions(number=1, repeat=1, n_parallel=2)


@pytest.fixture(scope="module")
def measure():
    with tune.LocalMeasure(OPTS) as m:
        yield m


@pytest.mark.parametrize("make", [
    lambda t: tune.RandomTuner(t, seed=0), lambda t: tune.GridTuner(t),
    lambda t: tune.GATuner(t, pop_size=8, seed=0),
    lambda t: tune.XGBTuner(t, plan_size=4, seed=0, feature_type="knob", loss_type="reg"),
], ids=["random", "grid", "ga", "xgb-knob-reg"])
def test_tuners_measure_distinct_valid_configs(make, measure):
    task = tune.Task(kernels.matmul.cpu_template, args=(16, 32, 8))
    tuner = make(task).tune(12, measure=measure, batch_size=4)
    idx = [i for i, _ in tuner.history]
    assert len(idx) == 12 and len(set(idx)) == 12
    assert tuner.best_cost < np.inf and tuner.best_index in idx


def test_xgb_itervar_rank_with_transfer_and_stream(tmp_path, measure):
    src = tune.Task(kernels.matmul.cpu_template, args=(16, 64, 8))
    log = tmp_path / "m.jsonl"
    tune.RandomTuner(src, seed=0).tune(16, log=log, measure=measure, batch_size=8)
    task = tune.Task(kernels.matmul.cpu_template, args=(32, 32, 16))
    tuner = tune.XGBTuner(task, plan_size=4, seed=0, transfer=str(log))
    assert tuner.transferred == 16 and tuner.model.base is not None
    stream = tune.RecordStream()
    seen = []
    consumer = threading.Thread(target=lambda: seen.extend(iter(lambda: stream.get(timeout=120), None)))
    consumer.start()
    xlog = tmp_path / "x.jsonl"
    tuner.tune(12, log=xlog, measure=measure, batch_size=4, callbacks=[stream, tune.log_to()])
    stream.close()
    consumer.join(60)
    assert len(seen) == 12 and all(r["workload"] == task.workload_key for r in seen)
    assert tuner.model.booster is not None and tuner.model.predictions_per_second > 0
    assert tuner.time_choosing > 0
    # every config the model chose is logged with its score, so the dashboard can plot predicted
    # vs measured (the transferred base model scores from the first batch on)
    import json
    from workbench.ui.records import TrialRecord, rank_correlation
    recs = [json.loads(line) for line in xlog.read_text().splitlines()]
    assert len(recs) == 12 and all(isinstance(r.get("predicted"), float) for r in recs)
    trials = [TrialRecord.from_any(r, run="xgb", index=i) for i, r in enumerate(recs)]
    assert all(t.predicted is not None for t in trials)
    rho = rank_correlation(trials)
    assert rho is None or -1.0 <= rho <= 1.0


def _pairwise_distance(M, N, K):
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((N, K), name="B")
    k = te.reduce_axis((0, K), name="k")
    D = te.compute((M, N), lambda i, j: te.sum((A[i, k] - B[j, k]) * (A[i, k] - B[j, k]), axis=k),
                   name="D")
    return A, B, D


def test_generated_space_on_operator_outside_catalog(measure):
    A, B, D = _pairwise_distance(12, 16, 8)
    task = tune.Task.from_compute([D])
    assert {"tile_i", "tile_j", "tile_k", "auto_unroll_max_step"} <= set(task.space.knobs)
    tuner = tune.XGBTuner(task, plan_size=4, seed=0).tune(8, measure=measure, batch_size=4)
    assert sum(c < np.inf for _, c in tuner.history) >= 6   # wrong answers would be inf
    a = np.random.rand(12, 8).astype("float32")
    b = np.random.rand(16, 8).astype("float32")
    out = np.zeros((12, 16), "float32")
    task.build(tuner.best_index)(a, b, out)
    np.testing.assert_allclose(out, ((a[:, None, :] - b[None]) ** 2).sum(-1), rtol=1e-4)


def test_from_schedule_keeps_user_primitives(measure):
    A, B, D = _pairwise_distance(16, 16, 8)
    s = wb.create_schedule(D)
    io, ii = s[D].split(D.op.axis[0], factor=4)
    task = tune.Task.from_schedule(s, [A, B, D])
    assert "parallel_outer" in task.space.knobs
    s2, _ = task.instantiate(0)
    assert s2.trace.steps[0] == s.trace.steps[0]
    tuner = tune.RandomTuner(task, seed=0).tune(4, measure=measure, batch_size=4)
    assert all(c < np.inf for _, c in tuner.history)


def test_the_default_batch_is_one_build_per_builder(measure):
    task = tune.Task(kernels.matmul.cpu_template, args=(16, 32, 8))
    sizes = []
    assert measure.parallelism == 2
    tune.RandomTuner(task, seed=0).tune(5, measure=measure, callbacks=[lambda t, c, r: sizes.append(len(c))])
    assert sizes == [2, 2, 1]
    with pytest.raises(ValueError, match="batch_size"):
        tune.RandomTuner(task, seed=0).tune(5, measure=measure, batch_size=0)
