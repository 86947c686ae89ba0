"""Tuning a VTA template with the CPU's tuners and logs, measured on the timing simulator."""
import json

import numpy as np

import kernels
from accel import vta
from accel.programs.layout import pack_nchw, pack_oihw, unpack_nchw
from workbench import tune
from workbench.tune.vta_measure import SimulatorMeasure, vta_task


def test_random_tuner_on_the_simulator(env, tmp_path):
    args = (1, 32, 8, 8, 32, 3, 1, 1)
    task = vta_task(kernels.conv2d.vta_template, args, env)
    assert "sim_1x16" in task.name and json.loads(task.workload_key)[1] == list(args)
    log = tmp_path / "conv.jsonl"
    with SimulatorMeasure(env, check_correctness=True) as measure:
        tuner = tune.RandomTuner(task, seed=3)
        tuner.target = measure.target
        tuner.tune(n_trial=8, log=str(log), measure=measure)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 8 and all(r["target"] == measure.target for r in records)
    ok = [r for r in records if r["result"]["error_no"] == 0]
    assert ok, [r["result"]["error_msg"] for r in records]
    # illegal configs are recorded with a reason, never raised
    for r in records:
        assert r["result"]["error_no"] in (0, 1, 3), r["result"]
    costs = sorted(r["result"]["costs"][0] for r in ok)
    best = tune.best_config(str(log), task, target=measure.target)
    assert best is not None
    s, tensors = task.instantiate(best)
    prog = vta.build(s, tensors, env)
    res = vta.Simulator(env, functional=False).run(prog)
    assert res.stats.seconds == costs[0]
    rng = np.random.default_rng(0)
    d = rng.integers(-128, 128, (1, 32, 8, 8), dtype=np.int8)
    k = rng.integers(-128, 128, (32, 32, 3, 3), dtype=np.int8)
    out = vta.Simulator(env).run(prog, {"data": pack_nchw(d, env), "kernel": pack_oihw(k, env)})
    np.testing.assert_array_equal(unpack_nchw(out.outputs["res"]),
                                  kernels.conv2d.vta_reference(d, k, 1, 1))
