"""The apps without a browser: widgets are driven through their buttons and sliders (ipywidgets
falls back to a dummy comm outside a kernel) and their Bokeh data sources are inspected."""
import json
import queue
import random
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.ui.records import TrialRecord, read_log, write_log

pytest.importorskip("ipywidgets")


def test_explorer_buttons_update_ir_chart_and_history(tmp_path):
    from workbench.ui import ScheduleExplorer
    e = ScheduleExplorer("matmul", M=64, N=64, K=64, min_time=0.001)
    assert e.wait(120).correct
    assert len(e.chart_src.data["gflops"]) == 1
    ir0 = e.ir_html.value
    e.select("C", "j")
    assert not e.btn["reorder ↑"].disabled and e.btn["reorder ↓"].disabled is False
    e.btn["reorder ↓"].click()                      # j below k: i, k, j
    assert e.position == 1 and e.ir_html.value != ir0
    assert e.wait(120).correct and len(e.chart_src.data["gflops"]) == 2
    e.select("C", "k")
    assert e.btn["vectorize"].disabled and e.btn["parallel"].disabled    # reduction axis
    e.select("C", "j")
    assert e.factor.options and not e.btn["split"].disabled
    e.factor.value = 16
    e.btn["split"].click()
    assert [n for n, *_ in e.session.loops("C")] == ["i", "k", "j.outer", "j.inner"]
    e.select("C", "j.inner")
    e.btn["vectorize"].click()
    import html, re
    ir_text = re.sub(r"<[^>]+>", "", html.unescape(e.ir_html.value))
    # a 16-lane vector access: a ramp in the flat form, a slice `a:a + 16` in the multi-dimensional one
    assert e.wait(120).correct and ("ramp(" in ir_text or re.search(r":[^\]]*\+ 16\]", ir_text)), ir_text
    assert len(e.chart_src.data["step"]) == 4
    e.btn["undo"].click()
    assert e.position == 2 and not e.btn["redo"].disabled
    e.wait(120)
    assert e.chart_src.data["step"] == [0, 1, 2]
    e.btn["redo"].click()
    assert e.position == 3
    e.diff_a.value, e.diff_b.value = 0, 3
    assert "ramp(" in e.diff_html.value or "* 16 + 16]" in e.diff_html.value
    assert "Why" in e.tabs.get_title(1) and "wb-findings" in e.why_html.value
    path = e.export(tmp_path / "k.py")
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "check vs numpy: OK" in out.stdout and "GFLOP/s" in out.stdout
    e.close()


def test_explorer_shows_illegal_move_as_message():
    from workbench.ui import ScheduleExplorer
    e = ScheduleExplorer("matmul", M=16, N=16, K=16, measure=False)
    e.wait(60)
    e.select("C", "k")
    e.btn["vectorize"].click()                      # disabled in the browser; forced here
    assert "reduction axis" in e.status.value and e.position == 0
    assert e.btn["search from here"].disabled == (not e.btn["search from here"].tooltip.startswith("tune"))
    e.close()


def _log(tmp_path, runs=("xgb", "random"), n=30, seed=0):
    rng = random.Random(seed)
    recs = []
    for run in runs:
        for i in range(n):
            cfg = {"tile_i": [rng.choice([1, 2, 4]), 8], "tile_j": rng.choice([8, 16, 32]),
                   "unroll": rng.choice([0, 1])}
            g = cfg["tile_j"] * (1 + cfg["unroll"]) + rng.random()
            err = "RuntimeError: timeout" if i % 10 == 3 else None
            recs.append(TrialRecord(run, i, cfg, None if err else g, None if err else 1 / g, err,
                                    "RuntimeError" if err else None, 100.0 + i,
                                    g + rng.random() if run == "xgb" else None))
    path = tmp_path / "log.jsonl"
    write_log(path, recs)
    return path, recs


def test_dashboard_fed_a_recorded_log(tmp_path):
    from workbench.ui import TuningDashboard
    path, recs = _log(tmp_path)
    assert read_log(path) == recs
    d = TuningDashboard()
    d.load(path)
    assert d.n_records == 60 and d.runs == ["xgb", "random"]
    assert d.best_gflops == max(r.gflops for r in recs if r.ok)
    best = d.src_best.data
    assert best["run"] == ["xgb", "random"] and all(ys == sorted(ys) for ys in best["ys"])
    assert len(d.src_pts.data["x"]) == sum(r.ok for r in recs)
    assert "Spearman" in d.fig_pred.title.text
    assert list(d.knob.options) == ["tile_i", "tile_j", "unroll"]
    d.knob.value = "tile_j"
    assert d.knob_range.factors == ["8", "16", "32"]
    assert d.src_err.data["count"] == [6] and d.err_kind.options == ("RuntimeError",)
    d.err_kind.value = "RuntimeError"
    assert "timeout" in d.err_msgs.value and "×6" in d.err_msgs.value


def test_dashboard_live_queue_follow_and_callback(tmp_path):
    from workbench.ui import TuningDashboard
    _, recs = _log(tmp_path, runs=("live",), n=20)
    d = TuningDashboard(refresh_s=0.0)
    q = queue.Queue()
    t = d.attach(q)
    for r in recs:
        q.put(r)
    q.put(None)
    t.join(30)
    assert not t.is_alive() and d.n_records == 20
    # a log being written by someone else
    d2 = TuningDashboard(refresh_s=0.0)
    live = tmp_path / "growing.jsonl"
    live.write_text("")
    d2.follow(live, poll_s=0.05)
    with open(live, "a") as fh:
        for r in recs[:7]:
            fh.write(r.to_json() + "\n")
    import time
    t_end = time.monotonic() + 30
    while d2.n_records < 7 and time.monotonic() < t_end:
        time.sleep(0.05)
    d2.stop()
    assert d2.n_records == 7
    # a tuner callback with dicts in the tuner's own field names
    d3 = TuningDashboard(refresh_s=0.0)
    cb = d3.callback("xgb", flops=2e9)
    cb([{"config": {"a": 1}, "costs": [0.01, 0.02, 0.03]}, {"config": {"a": 2}, "error": "ValueError: bad"}])
    assert d3.n_records == 2 and abs(d3.best_gflops - 100.0) < 1e-9
    assert d3.records()[1].error_kind == "ValueError"


def test_bad_log_is_a_clear_error(tmp_path):
    from workbench.ui import TuningDashboard
    p = tmp_path / "bad.jsonl"
    p.write_text('{"config": {}}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        TuningDashboard().load(p)
    with pytest.raises(FileNotFoundError):
        TuningDashboard().load(tmp_path / "missing.jsonl")


def test_roofline_points():
    from workbench.ui import Roofline, ScheduleExplorer
    from workbench.ui.roofline import Ceilings
    r = Roofline(Ceilings(200.0, 20.0, "test cpu", 2, 0.0))
    r.add("x", 2e9, 1e8, 0.1)
    assert r.src.data["ai"] == [20.0] and r.src.data["gflops"] == [20.0]
    e = ScheduleExplorer("matmul", M=32, N=32, K=32, min_time=0.001)
    e.wait(60)
    assert r.add_explorer(e) == 1
    with pytest.raises(ValueError):
        r.add("bad", 1, 0, 1)
    e.close()
