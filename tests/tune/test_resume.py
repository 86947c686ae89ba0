"""A tuning run killed with SIGKILL mid-batch resumes from its log: nothing logged is lost,
nothing is measured twice; a truncated last line is tolerated and reported."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import kernels
from workbench import tune

SCRIPT = """
import sys
import kernels
from workbench import tune
if __name__ == "__main__":
    task = tune.Task(kernels.matmul.cpu_template, args=(16, 32, 8))
    tune.RandomTuner(task, seed=int(sys.argv[2])).tune(
        24, log=sys.argv[1], batch_size=4,
        measure_option=tune.MeasureOptions(number=1, repeat=1, n_parallel=2))
"""


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_sigkill_mid_batch_then_resume(tmp_path):
    log = tmp_path / "run.jsonl"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(script), str(log), "0"], env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_lines(log)) < 8 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(0.3)              # somewhere inside the next batch
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    before = _lines(log)
    assert 8 <= len(before) < 24, len(before)
    subprocess.run([sys.executable, str(script), str(log), "1"], env=env, check=True, timeout=300)
    after = _lines(log)
    recs = [json.loads(x) for x in after if x.strip()]
    idx = [r["config"]["index"] for r in recs]
    assert len(idx) == 24 and len(set(idx)) == 24          # no duplicates, the full budget
    assert after[:len(before)] == before                     # nothing logged was lost


def test_truncated_last_line_is_tolerated(tmp_path):
    task = tune.Task(kernels.matmul.cpu_template, args=(16, 32, 8))
    log = tmp_path / "t.jsonl"
    opts = tune.MeasureOptions(number=1, repeat=1, n_parallel=2)
    tune.RandomTuner(task, seed=0).tune(4, log=log, measure_option=opts, batch_size=4)
    text = log.read_text()
    log.write_text(text + text.splitlines()[0][:37])          # a record cut off mid-write
    with pytest.warns(UserWarning, match="truncated last record"):
        contents = tune.load_log(log)
    assert len(contents.records) == 4 and len(contents.bad_lines) == 1
    with pytest.warns(UserWarning):
        tuner = tune.RandomTuner(task, seed=3).tune(6, log=log, measure_option=opts, batch_size=4)
    assert tuner.trials_done == 6
    with pytest.warns(UserWarning):
        recs = tune.load_log(log).records
    assert len(recs) == 6 and len({r["config"]["index"] for r in recs}) == 6
    best = tune.best_config(recs, task)
    with tune.apply_history_best(recs):
        f = task.build()
    assert f is not None and best is not None
