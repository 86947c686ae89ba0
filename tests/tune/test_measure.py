"""Isolated measurement: crashing, hanging, wrong and rejected candidates get their own error
codes and the batch (and the tuning) goes on; a Dask LocalCluster measures the same way."""
import json

import pytest

from workbench import tune
from workbench.tune import MeasureErrorNo as Err

from tune_test_templates import MODES, faulty_template


def test_faulty_candidates_get_their_error_codes():
    task = tune.Task(faulty_template, args=(64,))
    idx = {m: task.space.from_values({"mode": m}).index for m in MODES}
    with tune.LocalMeasure(build_timeout=4, run_timeout=4, n_parallel=2, number=1, repeat=1) as m:
        order = ["ok", "crash", "wrong", "hang", "reject", "build_hang", "ok"]
        got = m.measure_batch(task, [idx[x] for x in order[:-1]])
        codes = {mode: r.error_no for mode, r in zip(order, got)}
        assert codes == {"ok": Err.NO_ERROR, "crash": Err.RUNTIME_DEVICE, "wrong": Err.WRONG_ANSWER,
                         "hang": Err.RUN_TIMEOUT, "reject": Err.INSTANTIATION_ERROR,
                         "build_hang": Err.BUILD_TIMEOUT}, [(r.error_name, r.error_msg) for r in got]
        assert "SIGSEGV" in got[1].error_msg and "differ" in got[2].error_msg
        assert got[0].ok and got[0].cost > 0 and got[0].trace
        again = m.measure_batch(task, [idx["ok"]])     # the workers were replaced: still measuring
        assert again[0].ok


def test_tuning_goes_on_through_failures(tmp_path):
    task = tune.Task(faulty_template, args=(32,))
    log = tmp_path / "faulty.jsonl"
    opts = tune.MeasureOptions(build_timeout=4, run_timeout=4, n_parallel=2, number=1, repeat=1)
    tuner = tune.GridTuner(task).tune(len(MODES), log=log, measure_option=opts, batch_size=3)
    assert tuner.trials_done == len(MODES)
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["result"]["error_name"] for r in recs) == sorted(
        ["NO_ERROR", "WRONG_ANSWER", "INSTANTIATION_ERROR", "BUILD_TIMEOUT", "RUNTIME_DEVICE", "RUN_TIMEOUT"])
    assert tune.best_config(str(log), task)["mode"].val == "ok"


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    import kernels
    task = tune.Task(kernels.matmul.cpu_template, args=(16, 32, 8))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, timeout="60s") as client:
        with tune.DaskMeasure(client, number=1, repeat=1) as m:
            tune.RandomTuner(task, seed=0).tune(4, log=tmp_path / "dask.jsonl", measure=m, batch_size=2)
    tune.RandomTuner(task, seed=1).tune(8, log=tmp_path / "local.jsonl", measure_option=tune.MeasureOptions(
        number=1, repeat=1), batch_size=4)
    d = [json.loads(x) for x in (tmp_path / "dask.jsonl").read_text().splitlines()]
    loc = [json.loads(x) for x in (tmp_path / "local.jsonl").read_text().splitlines()]
    assert len(d) == 4 and all(r["result"]["error_no"] == 0 for r in d)
    assert set(d[0]) == set(loc[0]) and set(d[0]["result"]) == set(loc[0]["result"])
    assert d[0]["measure"]["kind"] == "DaskMeasure"


def test_workers_recycled():
    import kernels
    task = tune.Task(kernels.matmul.cpu_template, args=(16, 32, 8))
    import numpy as np
    idx = task.space.sample(np.random.default_rng(0), 5)
    with tune.LocalMeasure(number=1, repeat=1, n_parallel=1, recycle_every=2) as m:
        pids = []
        for i in idx:
            assert m.measure_batch(task, [i])[0].ok
            pids.append(m._runner.proc.pid)
    assert len(set(pids)) >= 2          # a fresh runner process every 2 candidates


def test_early_stopping():
    task = tune.Task(faulty_template, args=(16,))
    opts = tune.MeasureOptions(number=1, repeat=1, n_parallel=1)
    tuner = tune.GridTuner(task).tune(len(MODES), measure_option=opts, batch_size=1, early_stopping=2)
    assert tuner.best_index == 0 and tuner.trials_done == 3       # ok, wrong, reject: no gain in 2


def test_a_worker_that_cannot_start_leaves_nothing_half_started(monkeypatch):
    """A process start that fails (a script without the __main__ guard, re-run by spawn) raises its
    own error, and stopping the worker afterwards is clean (no 'can only join a started process')."""
    from workbench.tune import workers

    class Refuses:
        def __init__(self, *a, **k):
            pass

        def start(self):
            raise RuntimeError("an attempt has been made to start a new process before bootstrapping")

    class Ctx:
        def __init__(self, real):
            self.Pipe = real.Pipe
            self.Process = Refuses

    monkeypatch.setattr(workers, "context", lambda real=workers.context(): Ctx(real))
    w = workers.Worker("build")
    with pytest.raises(RuntimeError, match="bootstrapping"):
        w.ensure()
    assert w.proc is None and w.conn is None
    w.stop()
