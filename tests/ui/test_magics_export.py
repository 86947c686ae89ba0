"""%workbench magic and `workbench export` (CLI part)."""
import argparse
import json

import pytest

from workbench.export.cli import add_parser, run
from workbench.ui.magics import parse_params, run_line

pytest.importorskip("ipywidgets")


def test_parse_params():
    assert parse_params(["M=512", "shape=1,64,56,56", "pool_type=max", "x=2.5"]) == \
        {"M": 512, "shape": (1, 64, 56, 56), "pool_type": "max", "x": 2.5}
    with pytest.raises(ValueError, match="key=value"):
        parse_params(["512"])


def test_magic_commands(tmp_path):
    from workbench.ui import ScheduleExplorer, TuningDashboard, VTATimeline
    e = run_line("explore matmul M=16 N=16 K=16")
    assert isinstance(e, ScheduleExplorer) and e.session.workload.params == {"M": 16, "N": 16, "K": 16}
    e.wait(60)
    e.close()
    log = tmp_path / "a.jsonl"
    log.write_text(json.dumps({"config": {"t": 1}, "gflops": 3.0}) + "\n")
    d = run_line(f"open {log}")
    assert isinstance(d, TuningDashboard) and d.n_records == 1
    assert isinstance(run_line("vta gemm M=64 K=64 N=64 threads=1"), VTATimeline)
    with pytest.raises(ValueError, match="unknown %workbench command"):
        run_line("frobnicate")
    with pytest.raises(KeyError):
        run_line("explore no_such_op")


def test_load_ipython_extension():
    from IPython.core.interactiveshell import InteractiveShell
    import workbench
    shell = InteractiveShell.instance()
    try:
        workbench.load_ipython_extension(shell)
        assert "workbench" in shell.magics_manager.magics["line"]
    finally:
        InteractiveShell.clear_instance()


def _cli(argv):
    ap = argparse.ArgumentParser()
    add_parser(ap.add_subparsers(dest="cmd"))
    return ap.parse_args(argv)


def test_export_cli_from_log(tmp_path, capsys):
    from workbench.ui.session import ExplorerSession, Workload
    s = ExplorerSession(Workload.from_catalog("matmul", M=32, N=32, K=32))
    s.apply("reorder", "C", "i", "k", "j")
    log = tmp_path / "run.jsonl"
    recs = [{"workload": {"op": "matmul", "params": {"M": 32, "N": 32, "K": 32}}, "trace": json.loads(t.to_json()),
             "gflops": g} for t, g in ((s.history[0], 1.0), (s.history[1], 5.0))]
    recs.append({"workload": recs[0]["workload"], "trace": [], "gflops": 99.0, "error": "boom"})
    log.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    out = tmp_path / "kernel.py"
    assert run(_cli(["export", str(log), "-o", str(out)])) == 0
    text = out.read_text()
    assert "s['C'].reorder('i', 'k', 'j')" in text and "OPERATOR = 'matmul'" in text
    assert run(_cli(["export", str(tmp_path / "nope.jsonl")])) == 2
    assert "no such log" in capsys.readouterr().out
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert run(_cli(["export", str(empty)])) == 2


def test_tune_log_dashboard_and_export(tmp_path):
    """A real workbench.tune log: the dashboard reads it, export rebuilds its best kernel."""
    import subprocess
    import sys

    import kernels
    from workbench import tune
    from workbench.ui import TuningDashboard
    task = tune.Task(kernels.matmul.cpu_template, args=(32, 32, 32))
    log = tmp_path / "random.jsonl"
    live = TuningDashboard(refresh_s=0.0)
    tune.RandomTuner(task, seed=0).tune(n_trial=6, log=str(log), callbacks=[live.callback("random")])
    assert live.n_records == 6 and live.best_gflops > 0
    d = TuningDashboard()
    d.load(log)
    assert d.runs == ["random"] and d.n_records == 6
    assert abs(d.best_gflops - live.best_gflops) / live.best_gflops < 1e-6
    assert "tile_x" in d.knob.options
    out = tmp_path / "tuned.py"
    assert run(_cli(["export", str(log), "-o", str(out)])) == 0
    res = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "check vs numpy: OK" in res.stdout


def test_search_from_here_loads_best_back(tmp_path):
    from workbench.ui import ScheduleExplorer
    e = ScheduleExplorer("matmul", M=32, N=32, K=32, min_time=0.001)
    e.wait(60)
    e.apply("reorder", "C", "i", "k", "j")
    assert not e.btn["search from here"].disabled
    d = e.search_from_here(n_trial=4, log=str(tmp_path / "here.jsonl"))
    e.search_thread.join(300)
    assert not e.search_thread.is_alive() and d.n_records == 4
    steps = [s.primitive for s in e.session.trace]
    assert steps[0] == "reorder" and e.session.position == len(steps)   # the user's step kept
    assert e.wait(120).correct
    e.close()
